"""Variants scored per second: plmscope's Oracle against a careful plain loop over the same model.

The careful loop is what a competent user writes with the model library alone (fair-esm, or
transformers for the transformers rows): the wild type tokenised and run once per call, every
variant tokenised from its sequence in one batched call, one forward pass per needed input
(pllr: each variant; masked_marginal: the wild type with that variant's sites masked, one per
variant as the method is written; wt_marginal: none beyond the wild type's), batches of
--batch sequences, torch.inference_mode, log-softmax in float64, and the same precision as
plmscope's side (float32, or torch.autocast bfloat16 for the bf16-autocast rows). Both sides
run inside bench/common.py's pinned_threads with the same thread count, both are warmed up
once and timed as the median of --trials runs, in the same process, interleaved.

plmscope's side: a fresh Oracle per run (so its wild-type pass is timed every time), q-ary
variants turned into token ids by table lookup, duplicates removed, masked_marginal one pass
per distinct set of mutated sites (with random variants at 10 sites most variants share the
all-sites pattern, so this scorer's ratio grows with the variant count), and for ESM2 on the
CPU (both backends) the leaner forward pass of plmscope.models.esm_forward. ``--before`` adds
the rows of plmscope's previous path (the module's own forward pass).

Models: ESM2 architectures with random weights (the cost of a forward pass does not depend on
the weights): ESM2-8M (6 layers, 320 wide, 20 heads) and ESM2-35M (12, 480, 20) on the CPU;
ESM2-650M and ESM2-3B with --device cuda. Variants: random q = 20 variants of GB1 at the
paper's ten random-coil sites (seed 0). max|diff| is the largest difference from the careful
loop's scores in the same precision; "vs fp32" from the careful loop's float32 scores.

Run: python bench/bench_models.py [--threads 0] [--trials 3] [--precisions float32,bf16-autocast]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import machine_line, pinned_threads, print_table, thread_counts
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
CPU_MODELS = [("ESM2-8M", 6, 320, 20, 128), ("ESM2-35M", 12, 480, 20, 64)]
GPU_MODELS = ["esm2_t33_650M_UR50D", "esm2_t36_3B_UR50D"]


class CarefulLoop:
    """The plain loop: `encode` turns strings into (B, T) token ids the library's way,
    `forward` maps token ids to logits; both come from the library being compared."""

    def __init__(self, encode, forward, mask_id, batch, autocast, device):
        self.encode, self.forward, self.mask_id = encode, forward, mask_id
        self.batch, self.autocast, self.device = batch, autocast, device

    def _log_probs(self, toks):
        ctx = (torch.autocast(self.device.type, dtype=self.autocast) if self.autocast
               else contextlib.nullcontext())
        with torch.inference_mode(), ctx:
            logits = self.forward(toks.to(self.device))
        return torch.log_softmax(logits.double(), dim=-1)

    def score(self, scorer, wildtype, seqs):
        wt = self.encode([wildtype])  # (1, T): residue i at token 1 + i in both libraries
        wt_lp = self._log_probs(wt)[0]
        var = self.encode(seqs)
        changed = var != wt  # (m, T)
        if scorer == "wt_marginal":  # no pass beyond the wild type's
            gain = wt_lp.gather(-1, var.T.to(wt_lp.device)).T - wt_lp.gather(-1, wt.T).T
            return (gain * changed).sum(-1).cpu().numpy()
        if scorer == "pllr":
            wt_pll = wt_lp.gather(-1, wt[0, :, None])[1:-1].sum()
        out = []
        for a in range(0, len(seqs), self.batch):
            v, c = var[a:a + self.batch], changed[a:a + self.batch]
            if scorer == "pllr":
                lp = self._log_probs(v)
                pll = lp.gather(-1, v[..., None]).squeeze(-1)[:, 1:-1].sum(-1)
                out.append((pll - wt_pll).cpu().numpy())
                continue
            masked = torch.where(c, self.mask_id, wt)  # wild type, this variant's sites masked
            lp = self._log_probs(masked)
            gain = lp.gather(-1, v[..., None]) - lp.gather(-1, wt.expand_as(v)[..., None])
            out.append((gain.squeeze(-1) * c).sum(-1).cpu().numpy())
        return np.concatenate(out)


def careful_fair_esm(module, alphabet, batch, autocast, device):
    convert = alphabet.get_batch_converter()
    return CarefulLoop(lambda seqs: convert([("", s) for s in seqs])[2],
                       lambda toks: module(toks)["logits"], alphabet.mask_idx, batch, autocast,
                       device)


def careful_transformers(hf, tokenizer, batch, autocast, device):
    return CarefulLoop(lambda seqs: tokenizer(seqs, return_tensors="pt")["input_ids"],
                       lambda toks: hf(input_ids=toks).logits, tokenizer.mask_token_id, batch,
                       autocast, device)


def timed_sides(sides, trials):
    """({name: median wall seconds}, {name: median CPU seconds}, {name: warm-up result}) of
    the sides' callables, warmed up once each and timed interleaved (trial by trial), so a
    change in machine load hits every side alike. CPU time (this process's, all threads) is
    the steadier figure on a shared machine: time spent waiting for a core is not in it."""
    results = {k: fn() for k, fn in sides.items()}
    wall, cpu = {k: [] for k in sides}, {k: [] for k in sides}
    for _ in range(trials):
        for k, fn in sides.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    med = statistics.median
    return ({k: med(v) for k, v in wall.items()}, {k: med(v) for k, v in cpu.items()},
            results)


def bench_model(label, module, alphabet, L, x, device, args, threads, reference) -> list[dict]:
    """Rows for one architecture at one thread count: per backend, precision and scorer."""
    m = x.shape[0]
    seqs = L.sequences(x)
    rows = []
    for backend in args.backends.split(","):
        if backend == "transformers":
            hf, tok = fair_esm_to_transformers(module)
            hf = hf.to(device).eval()
        for precision in args.precisions.split(","):
            autocast = torch.bfloat16 if precision == "bf16-autocast" else None
            dtype = None if autocast is None else precision
            if backend == "fair-esm":
                careful = careful_fair_esm(module, alphabet, args.batch, autocast, device)
                model = from_fair_esm(module, alphabet, name=label, device=device, dtype=dtype)
            else:
                careful = careful_transformers(hf, tok, args.batch, autocast, device)
                model = from_transformers(hf, tok, name=label, device=device, dtype=dtype)
            for scorer in args.scorers.split(","):
                sides = {"careful": lambda: careful.score(scorer, GB1, seqs),
                         "plmscope": lambda: Oracle(model, L, scorer, batch_size=args.batch,
                                                    progress=False)(x)}
                if args.before and model._fast_forward() is not None:
                    before = (from_fair_esm(module, alphabet, name=label, device=device,
                                            dtype=dtype) if backend == "fair-esm" else
                              from_transformers(hf, tok, name=label, device=device, dtype=dtype))
                    before._fast = False  # the module's own forward, as before esm_forward
                    sides["before"] = lambda: Oracle(before, L, scorer, batch_size=args.batch,
                                                     progress=False)(x)
                with pinned_threads(threads):
                    t, c, results = timed_sides(sides, args.trials)
                want, got = results["careful"], results["plmscope"]
                ref = reference.setdefault((label, backend, scorer, threads), want)
                for side in sides:
                    rows.append({
                        "model": label, "threads": threads, "backend": backend,
                        "precision": precision, "scorer": scorer, "variants": m,
                        "side": side if side != "before" else "plmscope before",
                        "var/s": m / t[side], "x careful": t["careful"] / t[side],
                        "x careful (cpu)": c["careful"] / c[side],
                        "max|diff|": float(np.abs(got - want).max()) if side == "plmscope"
                        else 0.0 if side == "careful" else "",
                        "vs fp32": float(np.abs((got if side == "plmscope" else want)
                                                - ref).max()) if side != "before" else ""})
    return rows


def architectures(device, variants):
    if device.type == "cpu":
        return [(label, l, d, h, variants or m) for label, l, d, h, m in CPU_MODELS]
    out = []
    for name in GPU_MODELS:
        k = KNOWN_MODELS[name]
        out.append((name, k.num_layers, k.embed_dim, k.attention_heads, variants or 2048))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    ap.add_argument("--variants", type=int, default=None,
                    help="variants per model (default: 128 ESM2-8M, 64 ESM2-35M; 2048 on a GPU)")
    ap.add_argument("--threads", type=int, default=0,
                    help="thread count for both sides (default 0: report 1 and all cores)")
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64, help="sequences per forward pass, both sides")
    ap.add_argument("--scorers", default="pllr,masked_marginal,wt_marginal")
    ap.add_argument("--precisions", default="float32,bf16-autocast",
                    help="float32 and/or bf16-autocast (the same on both sides)")
    ap.add_argument("--backends", default="fair-esm,transformers")
    ap.add_argument("--models", default=None,
                    help="comma-separated labels to run (default: all of this device's)")
    ap.add_argument("--before", action="store_true",
                    help="also time plmscope's previous path (fair-esm's own forward pass)")
    args = ap.parse_args()
    device = torch.device(args.device)
    L = Landscape(GB1, RANDOM_COILS, q=20)
    archs = architectures(device, args.variants)
    if args.models:
        keep = set(args.models.split(","))
        archs = [a for a in archs if a[0] in keep]
    rng = np.random.default_rng(0)
    x_all = rng.integers(0, 20, size=(max(a[-1] for a in archs), L.n)).astype(np.uint8)
    from plmscope.models.esm_forward import cpu_has_bf16
    print(f"device: {device}; CPU bf16 matrix products: {cpu_has_bf16()}; random q=20 variants "
          f"of GB1 at {L.n} sites (seed 0); batch {args.batch}; median of {args.trials} warm "
          "trials, sides interleaved")
    rows, reference = [], {}
    for label, layers, dim, heads, m in archs:
        with torch.device(device):
            module, alphabet = random_fair_esm(layers, dim, heads, seed=0, jitter=0.0)
        module = module.to(device).eval()
        for threads in thread_counts(args.threads):
            print(f"{label}: {machine_line(threads)}", flush=True)
            rows += bench_model(label, module, alphabet, L, x_all[:m], device, args, threads,
                                reference)
    print_table(rows, ["model", "threads", "backend", "precision", "scorer", "variants", "side",
                       "var/s", "x careful", "x careful (cpu)", "max|diff|", "vs fp32"])
    print(f"after: {machine_line(0)}")
    print("x careful = careful-loop time / this side's time, same run, same threads, same "
          "precision (wall-clock medians; (cpu): CPU-time medians, steadier under load); "
          "max|diff| = largest difference from the careful loop's scores; vs fp32 = from the "
          "careful loop's float32 scores (bf16 rows: the precision's own error)")


if __name__ == "__main__":
    main()
