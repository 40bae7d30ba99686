"""What runs on a Ray actor: build the oracle once, then score shards of variants.

The actor receives a *recipe*, not a model: an ``OracleSpec``-like object (anything with
``build(device=...)``) is built on the actor's own device, a zero-argument factory is called
there, and any other picklable oracle is used as it arrives. An actor kept for another run
switches to that run's recipe with ``use()``; a spec of the model it already holds (same
``model_key``) reuses the loaded model. Nothing here imports Ray, so the class can be tested as
plain Python and Ray stays an optional dependency.
"""
from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

RECIPE_KINDS = ("spec", "factory", "oracle")


@dataclass(frozen=True)
class OracleRecipe:
    """How an actor makes its oracle: ``kind`` is "spec" (``payload.build(device=...)``),
    "factory" (``payload()``) or "oracle" (``payload`` itself, shipped pickled)."""

    kind: str
    payload: Any

    def build(self, device: str | None):
        if self.kind == "spec":
            return self.payload.build(device=device) if device else self.payload.build()
        if self.kind == "factory":
            return self.payload()
        return self.payload

    def describe(self) -> str:
        if self.kind == "spec":
            p = self.payload
            model = getattr(p, "model", None)
            scorer = getattr(p, "scorer", None)
            return f"spec {model!r} ({scorer})" if model else f"spec {type(p).__name__}"
        return f"{self.kind} {getattr(self.payload, '__name__', type(self.payload).__name__)}"


def _has_build(obj) -> bool:
    return callable(getattr(obj, "build", None))


def oracle_recipe(oracle, factory=None) -> OracleRecipe:
    """The recipe an actor uses to make ``oracle`` (or ``factory``'s oracle) on its own device.

    ``factory`` wins when given: an object with ``build()`` (an ``OracleSpec``) or a
    zero-argument callable. Otherwise an oracle carrying a ``spec`` (``plmscope.models.Oracle``,
    :class:`LazyOracle`) sends that spec, so the model is loaded on the actor's GPU rather than
    pickled from the driver; any other oracle is sent pickled.
    """
    if factory is not None:
        if _has_build(factory):
            return OracleRecipe("spec", factory)
        if callable(factory):
            return OracleRecipe("factory", factory)
        raise ValueError(f"oracle_factory must be an OracleSpec (with .build()) or a zero-argument "
                         f"callable returning the oracle, got {type(factory).__name__}")
    if _has_build(oracle) and not callable(oracle):
        return OracleRecipe("spec", oracle)
    spec = getattr(oracle, "spec", None)  # a models.Oracle wrapped from memory raises here
    if spec is not None and _has_build(spec):
        return OracleRecipe("spec", spec)
    if not callable(oracle):
        raise ValueError(f"oracle must be callable (variants -> scores) or an OracleSpec, got "
                         f"{type(oracle).__name__}")
    return OracleRecipe("oracle", oracle)


class LazyOracle:
    """An oracle known by its spec: the model is loaded on the first local call only.

    Pass ``LazyOracle(spec)`` to :func:`plmscope.fourier.qsft.recover` with a
    :class:`~plmscope.distributed.RayExecutor` and the driver never loads the model (the actors
    build it from ``spec``); without an executor it behaves like ``spec.build()``.
    """

    def __init__(self, spec):
        if not _has_build(spec):
            raise ValueError(f"spec must have a build() method (a plmscope.models.OracleSpec), "
                             f"got {type(spec).__name__}")
        self.spec = spec
        self._oracle = None

    def __call__(self, variants) -> np.ndarray:
        if self._oracle is None:
            self._oracle = self.spec.build()
        return self._oracle(variants)

    def close(self) -> None:
        """Release what the oracle built here holds open (a model Oracle's score cache)."""
        close = getattr(self._oracle, "close", None)
        if callable(close):
            close()

    def __reduce__(self):  # ship the recipe, never a loaded model
        return (LazyOracle, (self.spec,))

    def __repr__(self) -> str:
        return f"LazyOracle({self.spec!r}, built={self._oracle is not None})"


class OracleActor:
    """Body of one Ray actor. ``ready()`` builds the oracle (errors surface there, as the
    oracle's own exception), ``use()`` switches to another recipe, ``score()`` answers one
    shard and says how long it took.

    The model a spec loads is kept while the next recipes are specs with the same
    ``model_key`` (e.g. the landscapes of several repeats), so it is loaded once per actor;
    another model replaces it (one model at a time: a GPU holds one)."""

    def __init__(self, recipe: OracleRecipe):
        self.recipe = recipe
        self.oracle = None
        self._model = None       # the model a spec loaded here, and what it was loaded as
        self._model_key = None

    def ready(self) -> dict:
        return self.use(self.recipe)

    def use(self, recipe: OracleRecipe) -> dict:
        """Build the oracle of ``recipe`` (reusing the held model where it is the same) and
        answer with where and how: host, pid, GPUs, device, build seconds, reused_model."""
        gpu_ids = _assigned_gpus()
        # The actor sees only its own GPUs (Ray sets CUDA_VISIBLE_DEVICES), so "cuda" is the
        # one it was given; without a GPU a spec is built on the CPU whatever the driver used.
        device = "cuda" if gpu_ids else "cpu"
        t0 = time.perf_counter()
        self._drop_oracle()
        self.recipe = recipe
        self.oracle, reused = self._build(recipe, device)
        return {"host": socket.gethostname(), "pid": os.getpid(), "gpus": ",".join(gpu_ids),
                "device": device if recipe.kind == "spec" else "",
                "build_s": time.perf_counter() - t0, "reused_model": reused}

    def _build(self, recipe: OracleRecipe, device: str) -> tuple[Any, bool]:
        spec = recipe.payload
        if recipe.kind != "spec" or not callable(getattr(spec, "load_model", None)):
            self._model = self._model_key = None
            return recipe.build(device), False
        key = (spec.model_key, device)
        if key == self._model_key:
            return spec.build(device, model=self._model), True
        self._model = self._model_key = None  # free the old model before loading the next
        self._model = spec.load_model(device)
        self._model_key = key
        return spec.build(device, model=self._model), False

    def _drop_oracle(self) -> None:
        """Let go of the last oracle; one built from a spec is this actor's to close."""
        oracle, self.oracle = self.oracle, None
        close = getattr(oracle, "close", None)
        if self.recipe.kind == "spec" and callable(close):
            close()

    def score(self, variants: np.ndarray) -> tuple[np.ndarray, float]:
        t0 = time.perf_counter()
        values = np.asarray(self.oracle(variants), dtype=np.float64)
        return values, time.perf_counter() - t0


def _assigned_gpus() -> list[str]:
    try:
        import ray
    except ImportError:
        return []
    if not ray.is_initialized():  # plain-Python use of the class, outside a Ray worker
        return []
    return [str(i) for i in ray.get_runtime_context().get_accelerator_ids().get("GPU", [])]
