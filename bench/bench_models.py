"""Variants scored per second: plmscope's Oracle against the naive path of the published code.

The naive path (Tsui & Aghazadeh's ESM helper, via esm-variants): fp32, fixed batches of 512
variants in query order, every batch tokenised from strings with fair-esm's batch converter,
the wild type recomputed for every batch as 512 copies, and two forward passes per batch where
one is used (the second result is thrown away). Its PLL is computed here at each residue's
own position (the published helper indexed logits by token id), so both paths return the
same numbers and the table shows their largest difference. For masked_marginal and
wt_marginal the naive analogues are one masked pass per variant and one wild-type pass per
batch.

plmscope's path: the wild-type pass once, duplicates removed, masked_marginal one pass per
distinct mask pattern, token ids built straight from the q-ary variants, inference_mode, and
on a GPU bf16 autocast and SDPA attention (transformers backend).

Models: random weights with the real architectures (the cost of a forward pass does not
depend on the weights): a tiny ESM2 (2 layers, 32 wide) and ESM2-8M on the CPU; ESM2-650M and
ESM2-3B on a GPU when one is present. Variants: random q = 20 variants of GB1 at the paper's
ten random-coil sites (seed 0).

Run: python bench/bench_models.py [--device cpu|cuda] [--variants 1024] [--trials 3]
"""
from __future__ import annotations

import argparse
import os
import sys
from functools import partial

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import median_time, print_table
from plmscope.landscape import Landscape
from plmscope.models import (
    KNOWN_MODELS,
    Oracle,
    fair_esm_to_transformers,
    from_fair_esm,
    from_transformers,
    random_fair_esm,
)

GB1 = "MQYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"
RANDOM_COILS = [12, 15, 6, 47, 40, 9, 37, 50, 21, 38]  # the paper's GB1 sites, 1-based
NAIVE_BATCH = 512


class Naive:
    """The published scoring loop, kept as the peer."""

    def __init__(self, module, alphabet, device):
        self.module, self.alphabet, self.device = module, alphabet, device
        self.converter = alphabet.get_batch_converter()

    def _log_probs(self, seqs):
        _, _, toks = self.converter([("_", s) for s in seqs])
        toks = toks.to(self.device)
        with torch.no_grad():
            out = self.module(toks, repr_layers=[self.module.num_layers])
            lp = torch.log_softmax(out["logits"], -1)
            torch.log_softmax(self.module(toks)["logits"], -1)  # the published second pass
        return lp[:, 1:-1].double(), toks[:, 1:-1]

    def _pll(self, seqs):
        lp, toks = self._log_probs(seqs)
        return lp.gather(-1, toks.unsqueeze(-1)).squeeze(-1).sum(-1).cpu().numpy()

    def score(self, scorer, wildtype, seqs, mutated_positions):
        out = []
        for a in range(0, len(seqs), NAIVE_BATCH):
            batch = seqs[a:a + NAIVE_BATCH]
            if scorer == "pllr":
                out.append(self._pll(batch) - self._pll([wildtype] * len(batch)))
                continue
            if scorer == "wt_marginal":
                lp, wt_toks = self._log_probs([wildtype])
                lp = lp.expand(len(batch), -1, -1)
            else:  # masked_marginal: the wild type with this variant's sites masked
                masked = []
                for s, pos in zip(batch, mutated_positions[a:a + NAIVE_BATCH]):
                    chars = list(wildtype)
                    for p in pos:
                        chars[p] = "<mask>"
                    masked.append("".join(chars))
                lp, _ = self._log_probs(masked)
                _, wt_toks = self._log_probs([wildtype])
            _, mut_toks = self._log_probs(batch)
            wt_toks = wt_toks.expand_as(mut_toks)
            gain = lp.gather(-1, mut_toks.unsqueeze(-1)) - lp.gather(-1, wt_toks.unsqueeze(-1))
            out.append(gain.squeeze(-1).sum(-1).cpu().numpy())
        return np.concatenate(out)


def architectures(device: str, variants: int | None) -> list[tuple[str, int, int, int, int]]:
    """(label, layers, width, heads, variants scored) per model of this run."""
    archs = [("tiny (2x32)", 2, 32, 4, variants or 1024)]
    if device == "cpu":  # the naive path runs ESM2-8M at ~4 variants/s on 2 cores
        names = [("esm2_t6_8M_UR50D", variants or 64)]
    else:
        names = [("esm2_t33_650M_UR50D", variants or 4096), ("esm2_t36_3B_UR50D", variants or 2048)]
    for name, m in names:
        k = KNOWN_MODELS[name]
        archs.append((name, k.num_layers, k.embed_dim, k.attention_heads, m))
    return archs


def bench_architecture(label, layers, dim, heads, L, x, device, args) -> list[dict]:
    """Rows of the table for one architecture: the naive path and plmscope's two backends."""
    m = x.shape[0]
    seqs = L.sequences(x)
    mutated = [L.positions[row > 0] for row in x]
    with torch.device(device):
        module, alphabet = random_fair_esm(layers, dim, heads, seed=0, jitter=0.0)
    module = module.to(device).eval()
    naive = Naive(module, alphabet, device)
    hf, tok = fair_esm_to_transformers(module)
    paths = [("plmscope fair-esm", from_fair_esm(module, alphabet, name=label, device=device)),
             ("plmscope transformers+sdpa",
              from_transformers(hf.to(device), tok, name=label, device=device))]
    rows = []
    for scorer in args.scorers.split(","):
        ref = naive.score(scorer, GB1, seqs, mutated)  # also the warm-up
        t_naive = median_time(partial(naive.score, scorer, GB1, seqs, mutated), args.trials, 0)
        rows.append({"model": label, "scorer": scorer, "variants": m,
                     "path": "naive (published)", "precision": "float32", "var/s": m / t_naive,
                     "speedup": 1.0, "max|diff|": 0.0})
        for name, model in paths:
            run = partial(score_once, model, L, scorer, args.batch, x)
            got = run()
            t = median_time(run, args.trials, 0)
            rows.append({"model": label, "scorer": scorer, "variants": m, "path": name,
                         "precision": model.precision, "var/s": m / t, "speedup": t_naive / t,
                         "max|diff|": float(np.abs(got - ref).max())})
    return rows


def score_once(model, L, scorer, batch, x):
    """A fresh Oracle each time, so the wild-type pass is part of every measurement."""
    return Oracle(model, L, scorer, batch_size=batch, progress=False)(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--variants", type=int, default=None,
                    help="variants per model (default: 1024 tiny, 64 ESM2-8M on CPU, 4096/2048 "
                         "ESM2-650M/3B on GPU)")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--batch", type=int, default=256, help="plmscope batch size")
    ap.add_argument("--scorers", default="pllr,masked_marginal,wt_marginal")
    args = ap.parse_args()
    device = torch.device(args.device)
    rng = np.random.default_rng(0)
    L = Landscape(GB1, RANDOM_COILS, q=20)
    archs = architectures(device.type, args.variants)
    x_all = rng.integers(0, 20, size=(max(a[-1] for a in archs), L.n)).astype(np.uint8)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    print(f"device: {gpu or 'cpu'}; torch threads: {torch.get_num_threads()}; random q=20 "
          f"variants of GB1 at {L.n} sites (seed 0); median of {args.trials} trials")
    if device.type == "cpu":
        print("no GPU in this run: ESM2-650M / ESM2-3B rows need --device cuda on a GPU machine "
              "(none was lent to this session)")
    rows = []
    for label, layers, dim, heads, m in archs:
        rows += bench_architecture(label, layers, dim, heads, L, x_all[:m], device, args)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print_table(rows, ["model", "scorer", "variants", "path", "precision", "var/s", "speedup",
                       "max|diff|"])
    print("speedup = naive time / plmscope time in the same run; "
          "max|diff| = largest difference from the naive scores")


if __name__ == "__main__":
    main()
