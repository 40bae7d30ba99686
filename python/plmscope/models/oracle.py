"""A model's scores over a landscape as a function of q-ary variants: the q-SFT oracle."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..landscape import Landscape
from .batching import DEFAULT_BATCH_SIZE, check_batch_size
from .cache import ScoreCache, variant_keys
from .model import ProteinModel, dtype_name
from .scoring import SubstitutionScorer, check_scorer

_CHUNK = 1 << 18  # distinct variants scored (and cached) per step of one call


@dataclass(frozen=True)
class OracleSpec:
    """Everything needed to rebuild an :class:`Oracle` in another process (plain, picklable
    and JSON-ready via ``asdict``). ``build()`` loads the model and returns the Oracle."""

    model: str
    backend: str | None
    device: str | None
    dtype: str | None
    wildtype: str
    sites: tuple[int, ...]
    q: int
    substitutions: tuple[str, ...] | None
    scorer: str
    batch_size: int = DEFAULT_BATCH_SIZE
    cache: str | None = None

    def landscape(self) -> Landscape:
        return Landscape(self.wildtype, list(self.sites), self.q,
                         None if self.substitutions is None else list(self.substitutions))

    @property
    def model_key(self) -> tuple:
        """What the loaded model depends on (besides the device): specs with equal keys may
        share one loaded model, e.g. the landscapes of several repeats on one Ray actor."""
        return (self.model, self.backend, self.dtype)

    def load_model(self, device=None) -> ProteinModel:
        """The spec's model, loaded on `device` if given, else on the spec's device."""
        from .loading import load

        return load(self.model, backend=self.backend, device=device or self.device,
                    dtype=self.dtype)

    def build(self, device=None, progress=None, model: ProteinModel | None = None) -> Oracle:
        """The Oracle of this spec. `model`: one already loaded by a spec with the same
        ``model_key`` (then `device` is unused); None loads it (on `device` if given, else on
        the spec's device)."""
        if model is None:
            model = self.load_model(device)
        return Oracle(model, self.landscape(), self.scorer, batch_size=self.batch_size,
                      cache=self.cache, progress=progress)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sites"] = list(self.sites)
        d["substitutions"] = None if self.substitutions is None else list(self.substitutions)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> OracleSpec:
        d = dict(d)
        d["sites"] = tuple(d["sites"])
        if d.get("substitutions") is not None:
            d["substitutions"] = tuple(d["substitutions"])
        return cls(**d)


def _rebuild(spec: OracleSpec) -> Oracle:
    return spec.build()


class Oracle:
    """f(x) = the model's score of variant x of a landscape; callable on (m, n) uint8 arrays.

    Parameters
    ----------
    model : ProteinModel
        From :func:`plmscope.models.load`.
    landscape : Landscape
        The wild type, sites and q-ary encoding.
    scorer : "pllr", "masked_marginal" or "wt_marginal"
    batch_size : int
        Sequences per forward pass (halved automatically on out-of-memory).
    cache : None, path or ScoreCache
        Persist scores so repeated and resumed runs never recompute a variant.
    progress : bool or None
        Progress bars: True always, False never, None on a terminal.

    Counters: ``queries`` (variants asked for), ``computed`` (scores computed, not found in the
    cache or repeated), ``sequences_forwarded`` (model inputs run through the network).
    """

    def __init__(self, model: ProteinModel, landscape: Landscape, scorer: str,
                 batch_size: int = DEFAULT_BATCH_SIZE, cache=None, progress=None):
        if not isinstance(model, ProteinModel):
            raise ValueError(f"model must be a ProteinModel from plmscope.models.load, got "
                             f"{type(model).__name__}")
        if not isinstance(landscape, Landscape):
            raise ValueError(f"landscape must be a plmscope.landscape.Landscape, got "
                             f"{type(landscape).__name__}")
        self.model = model
        self.landscape = landscape
        self.scorer = check_scorer(scorer)
        self.batch_size = check_batch_size(batch_size)
        self.progress = progress
        if cache is None or isinstance(cache, ScoreCache):
            self.cache = cache
        else:
            self.cache = ScoreCache(cache)
        tok = model.tokenization
        for i in range(landscape.n):  # token ids of every (site, state); raises on bad letters
            for v in range(landscape.q):
                tok.token_id(landscape.residue(i, v))
        self._token_table = np.array(
            [[tok.token_id(landscape.residue(i, v)) for v in range(landscape.q)]
             for i in range(landscape.n)], dtype=np.int64)  # (n, q)
        self._scorer = SubstitutionScorer(model, landscape.wildtype, landscape.positions,
                                          self.batch_size, progress)
        self._context = None
        if self.cache is not None:
            self._context = self.cache.context(model.name, model.backend, model.precision,
                                               self.scorer, landscape.wildtype)
        self.queries = 0
        self.computed = 0

    @property
    def sequences_forwarded(self) -> int:
        return self._scorer.sequences_forwarded

    @property
    def spec(self) -> OracleSpec:
        """The recipe to rebuild this Oracle elsewhere (needs a model loaded by name/path)."""
        m = self.model
        if m.source is None:
            raise ValueError(
                f"{m.name} was wrapped from memory, so another process cannot load it; load the "
                "model with plmscope.models.load(name_or_path) to get a spec"
            )
        dtype = m.load_dtype if (m.load_dtype is None or isinstance(m.load_dtype, str)) \
            else dtype_name(m.load_dtype)
        return OracleSpec(
            model=m.source, backend=m.backend, device=str(m.device), dtype=dtype,
            wildtype=self.landscape.wildtype, sites=tuple(self.landscape.sites),
            q=self.landscape.q, substitutions=tuple(self.landscape.substitutions),
            scorer=self.scorer, batch_size=self.batch_size,
            cache=None if self.cache is None else str(self.cache.path),
        )

    def __reduce__(self):
        # pickling an Oracle sends its spec; unpickling loads the model again
        return (_rebuild, (self.spec,))

    def __repr__(self) -> str:
        return (f"Oracle({self.model.name!r}, {self.scorer!r}, n={self.landscape.n}, "
                f"q={self.landscape.q}, cache={self.cache})")

    def wildtype_marginals(self) -> np.ndarray:
        """(n, q) probabilities of each state at each site from the model's pass over the
        unmasked wild type, renormalised over the landscape's q states (a background for
        the weighted view of :mod:`plmscope.landscape.background`)."""
        lp = self._scorer.wt_site_log_probs  # (n, V)
        logits = lp[np.arange(self.landscape.n)[:, None], self._token_table]
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)

    def close(self) -> None:
        """Release the score cache's connections (its SQLite journal is checkpointed into
        the file when no other process has it open). The Oracle stays usable: its next call
        opens the cache again."""
        if self.cache is not None:
            self.cache.close()

    def __call__(self, x) -> np.ndarray:
        """(m,) float64 scores of the variants x, an (m, n) array of states in [0, q)."""
        x = self.landscape.check_variants(x)
        m = x.shape[0]
        self.queries += m
        if m == 0:
            return np.zeros(0, dtype=np.float64)
        uniq, inverse = self._unique(x)
        scores = np.full(uniq.shape[0], np.nan, dtype=np.float64)
        keys = None
        missing = np.arange(uniq.shape[0])
        if self.cache is not None:
            codes = self.landscape.residue_codes(uniq)
            wt_codes = self.landscape.residue_codes(np.zeros((1, self.landscape.n), np.uint8))[0]
            keys = variant_keys(self.landscape.positions, codes, wt_codes)
            scores, found = self.cache.get(self._context, keys)
            missing = np.flatnonzero(~found)
        sites = np.arange(self.landscape.n)[None, :]
        for a in range(0, missing.size, _CHUNK):  # bounded memory for millions of queries
            rows = missing[a:a + _CHUNK]
            new = self._scorer.score(self.scorer, self._token_table[sites, uniq[rows]],
                                     distinct=True)
            scores[rows] = new
            self.computed += rows.size
            if self.cache is not None:  # saved chunk by chunk: an interrupted call keeps them
                self.cache.put(self._context, [keys[i] for i in rows], new)
        return scores[inverse]

    def _unique(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distinct variants and the index of each row among them."""
        L = self.landscape
        if L.n * np.log2(L.q) < 62:
            flat = L.flatten(x)
            uflat, inverse = np.unique(flat, return_inverse=True)
            return L.unflatten(uflat), inverse.reshape(-1)
        uniq, inverse = np.unique(x, axis=0, return_inverse=True)
        return uniq, inverse.reshape(-1)
