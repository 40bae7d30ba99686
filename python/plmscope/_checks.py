"""Argument checks shared by the whole package: one rule and one wording for each kind of
argument (a bool is not an integer; the message names the argument and the value given)."""
from __future__ import annotations

import math
import numbers

import numpy as np


def check_int(name: str, value, low: int, note: str = "", allow_none: bool = False):
    """value as an int >= low (None passes through when allow_none); else ValueError
    "NAME must be an integer >= LOW[ or None][NOTE], got NAME=VALUE"."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or value < low:
        raise ValueError(f"{name} must be an integer >= {low}{' or None' if allow_none else ''}"
                         f"{note}, got {name}={value!r}")
    return int(value)


def check_number(name: str, value, low: float, note: str = "", allow_none: bool = False):
    """value as a finite float >= low (None passes through when allow_none)."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) \
            or not value >= low or not math.isfinite(value):
        raise ValueError(f"{name} must be a number >= {low}{' or None' if allow_none else ''}"
                         f"{note}, got {name}={value!r}")
    return float(value)


def check_nthreads(nthreads) -> int:
    return check_int("nthreads", nthreads, 0, " (0 = all cores)")


def check_q(q) -> int:
    return check_int("q", q, 2, " (the alphabet size)")


def qary_log(length: int, q: int) -> int:
    """n with q**n == length, or ValueError naming the length."""
    n, v = 0, int(length)
    while v > 1 and v % q == 0:
        v //= q
        n += 1
    if v != 1:
        raise ValueError(
            f"x.shape[-1] = {length} is not a power of q={q}: the last axis must hold the "
            f"q**n values of one function on Z_q^n"
        )
    return n
