"""Where the reproduction suite finds the published files: the folder PLMSCOPE_DATA names.
A missing folder or file fails the test, naming what to download (never a skip)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

FILES = {
    "gb1-q20-n10/randomcoils.npz": "the paper's recovered GB1 transform (coef_index, coef_value, "
                                   "positions_0based) and its 10,000 held-out ESM2 scores "
                                   "(test_x, test_y)",
    "esm2-q2-landscapes/authors-meier/GB1_<sites>.npz": "full q = 2, n = 10 ESM2 landscapes "
                                                        "(scores 19 x 1024, positions_1based, "
                                                        "label, published_sparsity, "
                                                        "published_ruggedness)",
    "esm2-q2-landscapes/authors-brandes/GB1_<sites>.npz": "the same, second scorer",
}
SOURCE = ("Tsui & Aghazadeh, arXiv 2405.06645, code and data: "
          "https://github.com/amirgroup-codes/InteractionRecovery")


def _what_to_get() -> str:
    listing = "\n".join(f"  {name}: {what}" for name, what in FILES.items())
    return (f"the reproduction suite reads the published files from the folder PLMSCOPE_DATA "
            f"names ({SOURCE}; layout in tests/reproduction/README.md):\n{listing}")


def data_path(*parts: str) -> Path:
    root = os.environ.get("PLMSCOPE_DATA")
    if not root:
        pytest.fail("PLMSCOPE_DATA is not set: " + _what_to_get(), pytrace=False)
    path = Path(root).expanduser().joinpath(*parts)
    if not path.exists():
        pytest.fail(f"{path} is missing: " + _what_to_get(), pytrace=False)
    return path


def gb1_transform() -> Path:
    return data_path("gb1-q20-n10", "randomcoils.npz")


def landscape_files() -> list[Path]:
    root = data_path("esm2-q2-landscapes")
    files = sorted(root.glob("*/*.npz"))
    if len(files) < 10:
        pytest.fail(f"expected the published landscapes under {root}, found {len(files)}: "
                    + _what_to_get(), pytrace=False)
    return files
