"""Variant scores from a masked language model (docs/conventions.md, "Model scores").

All three scores are sums of log-probabilities, log_softmax over the whole vocabulary:

* ``pllr`` (Brandes et al. 2023): PLL(s) = sum_i log p(s_i | s) from one unmasked pass over s;
  score = PLL(variant) - PLL(wild type). Log-probabilities are taken at each residue's own
  position (the published helper indexed the logits by token id instead; not copied here).
* ``masked_marginal`` (Meier et al. 2021): one pass over the wild type with every mutated site
  masked; score = sum over mutated i of log p(mut_i) - log p(wt_i).
* ``wt_marginal`` (Meier et al. 2021): the same sum from one unmasked pass over the wild type.

What makes them fast: the wild-type pass is computed once per scorer and shared by all three;
variants are deduplicated; ``masked_marginal`` depends on a variant only through the set of
mutated sites (its mask pattern), so one pass per distinct pattern (at most 2^n) serves every
variant with that pattern, in this and later calls; ``wt_marginal`` needs no pass beyond the
wild type's.
"""
from __future__ import annotations

import numpy as np
import torch

from .batching import DEFAULT_BATCH_SIZE, check_batch_size, length_groups, run_batches
from .model import ProteinModel

SCORERS = ("pllr", "masked_marginal", "wt_marginal")
_PATTERN_MEMO_BYTES = 256 << 20  # 256 MiB: every pattern of 10 sites takes 2.7 MB


def check_scorer(scorer) -> str:
    if scorer not in SCORERS:
        raise ValueError(f"scorer must be one of {SCORERS}, got {scorer!r}")
    return scorer


def _token_log_probs(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """log p(ids[b, t] | ...) at every position: gathered logit minus logsumexp, in float64
    (a PLL sums hundreds of terms of size ~5, and PLLR is a difference of two such sums)."""
    logits = logits.double()
    return logits.gather(-1, ids.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)


class SubstitutionScorer:
    """Scores substitution variants of one wild type with one model.

    Variants are given as token ids at `positions` (0-based residue indices): ``var_ids`` of
    shape (m, n), equal to the wild type's token where a site is not mutated.
    """

    def __init__(self, model: ProteinModel, wildtype: str, positions, batch_size=DEFAULT_BATCH_SIZE,
                 progress=None):
        model.require_lm_head()
        self.model = model
        self.batch_size = check_batch_size(batch_size)
        self.progress = progress
        model.check_length(len(wildtype), "the wild type")
        batch = model.tokenize([wildtype])
        self.wildtype = wildtype
        self.wt_ids = batch.ids[0]  # (T,) on the model's device
        self.start = int(batch.starts[0])
        self.length = int(batch.lengths[0])
        self.positions = np.asarray(positions, dtype=np.int64)
        if self.positions.size and (self.positions.min() < 0
                                    or self.positions.max() >= self.length):
            raise ValueError(f"positions must lie in [0, {self.length}), got {self.positions}")
        self.site_tokens = self.start + self.positions
        self.wt_site_ids = self.wt_ids.cpu().numpy()[self.site_tokens]
        self._wt_log_probs: np.ndarray | None = None
        self._wt_pll: float | None = None
        self._pattern_tables: dict[bytes, np.ndarray] = {}  # masked_marginal memo, by pattern
        self._pattern_bytes = 0
        self.sequences_forwarded = 0  # model inputs run through the network, for reports

    # -- the wild-type pass (once) ----------------------------------------------------------
    def _wild_type_pass(self) -> None:
        with self.model.inference():
            logits = self.model.logits(self.wt_ids[None, :])
            lp = torch.log_softmax(logits[0].double(), dim=-1)
        self.sequences_forwarded += 1
        res = slice(self.start, self.start + self.length)
        tok = lp.gather(-1, self.wt_ids[:, None]).squeeze(-1)
        self._wt_pll = float(tok[res].sum())
        self._wt_log_probs = lp[self.site_tokens].cpu().numpy()  # (n, V) float64

    @property
    def wt_pll(self) -> float:
        """PLL of the wild type."""
        if self._wt_pll is None:
            self._wild_type_pass()
        return self._wt_pll

    @property
    def wt_site_log_probs(self) -> np.ndarray:
        """(n, V) float64 log-probabilities at the sites from the unmasked wild type."""
        if self._wt_log_probs is None:
            self._wild_type_pass()
        return self._wt_log_probs

    # -- scores -----------------------------------------------------------------------------
    def score(self, scorer: str, var_ids, distinct: bool = False) -> np.ndarray:
        """(m,) float64 scores of the variants given as (m, n) token ids at the sites.
        `distinct=True` promises the rows are already unique (skips deduplication)."""
        check_scorer(scorer)
        var = np.asarray(var_ids, dtype=np.int64)
        if var.ndim != 2 or var.shape[1] != len(self.positions):
            raise ValueError(f"var_ids must have shape (m, {len(self.positions)}), got {var.shape}")
        if var.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        if scorer == "wt_marginal":
            return self._wt_marginal(var)
        if distinct:
            uniq, inverse = var, np.arange(var.shape[0])
        else:
            uniq, inverse = np.unique(var, axis=0, return_inverse=True)
            inverse = inverse.reshape(-1)
        if scorer == "pllr":
            return self._pllr(uniq)[inverse]
        return self._masked_marginal(uniq)[inverse]

    def _wt_marginal(self, var: np.ndarray) -> np.ndarray:
        lp = self.wt_site_log_probs
        sites = np.arange(var.shape[1])
        return (lp[sites, var] - lp[sites, self.wt_site_ids]).sum(axis=1)

    def _pllr(self, var: np.ndarray) -> np.ndarray:
        out = np.zeros(var.shape[0], dtype=np.float64)
        todo = np.flatnonzero((var != self.wt_site_ids).any(axis=1))  # the wild type scores 0
        if todo.size == 0:
            return out
        wt_pll = self.wt_pll
        sites = torch.as_tensor(self.site_tokens, device=self.model.device)
        res = slice(self.start, self.start + self.length)
        var_t = torch.as_tensor(var[todo], device=self.model.device)

        def step(a: int, b: int) -> None:
            ids = self.wt_ids.repeat(b - a, 1)
            ids[:, sites] = var_t[a:b]
            with self.model.inference():
                tok = _token_log_probs(self.model.logits(ids), ids)
            out[todo[a:b]] = tok[:, res].sum(dim=1).cpu().numpy() - wt_pll
            self.sequences_forwarded += b - a

        run_batches(self.model, todo.size, self.batch_size, step, self.progress,
                    f"pllr {self.model.name}")
        return out

    def _masked_marginal(self, var: np.ndarray) -> np.ndarray:
        mask_id = self.model.tokenization.mask_id
        if mask_id is None:
            raise ValueError(f"{self.model.name} has no mask token, so masked_marginal is "
                             "undefined for it")
        n = var.shape[1]
        mutated = var != self.wt_site_ids  # (m, n)
        out = np.zeros(var.shape[0], dtype=np.float64)
        patterns, row_pattern = np.unique(np.packbits(mutated, axis=1), axis=0, return_inverse=True)
        row_pattern = row_pattern.reshape(-1)
        pattern_masks = np.unpackbits(patterns, axis=1, count=n).astype(bool)  # (P, n)
        todo = np.flatnonzero(pattern_masks.any(axis=1))  # the all-wild-type pattern scores 0
        if todo.size == 0:
            return out
        # rows grouped by pattern, so each pattern owns a contiguous run of rows
        order = np.argsort(row_pattern, kind="stable")
        bounds = np.searchsorted(row_pattern[order], np.arange(len(patterns) + 1))
        site_index = np.arange(n)

        def apply(p: int, table: np.ndarray) -> None:
            """Scores of pattern p's rows from its (n, V) log-probability table."""
            rows = order[bounds[p]:bounds[p + 1]]
            gain = table[site_index, var[rows]] - table[site_index, self.wt_site_ids]
            out[rows] = np.where(mutated[rows], gain, 0.0).sum(axis=1)

        keys = [patterns[p].tobytes() for p in todo]
        for p, key in zip(todo, keys):
            if key in self._pattern_tables:
                apply(p, self._pattern_tables[key])
        need = np.array([p for p, key in zip(todo, keys) if key not in self._pattern_tables],
                        dtype=np.int64)
        sites = torch.as_tensor(self.site_tokens, device=self.model.device)

        def step(a: int, b: int) -> None:
            pats = need[a:b]
            masks = torch.as_tensor(pattern_masks[pats], device=self.model.device)
            ids = self.wt_ids.repeat(len(pats), 1)
            site_ids = ids[:, sites]
            ids[:, sites] = torch.where(masks, torch.full_like(site_ids, mask_id), site_ids)
            with self.model.inference():
                logits = self.model.logits(ids)[:, sites]  # (B, n, V)
                tables = torch.log_softmax(logits.double(), dim=-1).cpu().numpy()
            self.sequences_forwarded += len(pats)
            for table, p in zip(tables, pats):
                apply(p, table)
                self._remember(patterns[p].tobytes(), table)

        if need.size:
            run_batches(self.model, need.size, self.batch_size, step, self.progress,
                        f"masked_marginal {self.model.name}")
        return out

    def _remember(self, key: bytes, table: np.ndarray) -> None:
        """Keep a mask pattern's table for later calls (q-SFT asks in many batches), within
        a memory budget; the oldest tables go first."""
        self._pattern_tables[key] = table
        self._pattern_bytes += table.nbytes
        while self._pattern_bytes > _PATTERN_MEMO_BYTES and self._pattern_tables:
            oldest = next(iter(self._pattern_tables))
            self._pattern_bytes -= self._pattern_tables.pop(oldest).nbytes


def _substitution_view(model: ProteinModel, wildtype: str,
                       sequences) -> tuple[np.ndarray, np.ndarray]:
    """(positions, var_ids): the columns where any sequence differs from the wild type and
    the sequences' token ids there."""
    wt = model.residue_ids(wildtype)
    rows = []
    for i, s in enumerate(sequences):
        ids = model.tokenization.residue_ids(s, i)
        if len(ids) != len(wt):
            raise ValueError(
                f"sequences[{i}] has length {len(ids)} but the wild type has {len(wt)}: these "
                "scores are defined for substitutions only"
            )
        rows.append(ids)
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.int64)
    mat = np.stack(rows)
    positions = np.flatnonzero((mat != wt).any(axis=0))
    return positions, mat[:, positions]


def score_variants(model: ProteinModel, wildtype: str, sequences, scorer: str,
                   batch_size: int = DEFAULT_BATCH_SIZE, progress=None) -> np.ndarray:
    """Scores of substitution variants of `wildtype` (full sequences of its length)."""
    check_scorer(scorer)
    sequences = list(sequences)
    positions, var = _substitution_view(model, wildtype, sequences)
    if not sequences:
        return np.zeros(0, dtype=np.float64)
    return SubstitutionScorer(model, wildtype, positions, batch_size, progress).score(scorer, var)


def pll(model: ProteinModel, sequences, batch_size: int = DEFAULT_BATCH_SIZE,
        progress=None) -> np.ndarray:
    """Pseudo-log-likelihood sum_i log p(s_i | s) of each sequence (one unmasked pass each;
    sequences of any lengths, batched by length)."""
    sequences = list(sequences)
    out = np.zeros(len(sequences), dtype=np.float64)
    if not sequences:
        return out
    for i, s in enumerate(sequences):
        model.check_length(len(model.tokenization.residue_ids(s, i)), f"sequences[{i}]")
    groups = length_groups([len(s) for s in sequences], check_batch_size(batch_size))
    flat = np.concatenate(groups)

    def step(a: int, b: int) -> None:
        idx = flat[a:b]
        batch = model.tokenize([sequences[i] for i in idx])
        with model.inference():
            tok = _token_log_probs(model.logits(batch.ids, batch.attention_mask), batch.ids)
        out[idx] = (tok * batch.residue_mask()).sum(dim=1).cpu().numpy()

    run_batches(model, len(flat), batch_size, step, progress, f"pll {model.name}")
    return out
