"""`plmscope plan`: how long the model queries of a q-SFT experiment take on 1, 8, 64 GPUs.

From the experiment's arguments it counts the distinct variants the oracle will be asked (the
same design ``recover`` builds for that seed), and from one GPU's throughput - given, or
measured here with ``--measure MODEL`` - it predicts the wall time of the executor's schedule
(:func:`plmscope.distributed.estimate_run`) for each GPU count.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from . import seed
from .common import add_model_args

EXACT_COUNT_LIMIT = 20_000_000  # design points above which the distinct count is not computed


def register(sub) -> None:
    p = sub.add_parser(
        "plan", help="predict how long an experiment's model queries take on N GPUs",
        description="Count the queries of a q-SFT experiment and predict its wall time on each "
                    "GPU count from one GPU's throughput (variants/s), given with --throughput "
                    "or measured on this machine with --measure MODEL.")
    g = p.add_argument_group("the experiment (as for `plmscope interactions`)")
    g.add_argument("--q", type=int, default=20, help="states per site (default 20)")
    g.add_argument("--n", type=int, required=True, help="number of sites")
    g.add_argument("--b", type=int, default=4, help="q^b bins per subsample (default 4)")
    g.add_argument("--subsamples", type=int, default=2, help="subsampling groups C (default 2)")
    g.add_argument("--delays", default="nso", choices=("nso", "identity"),
                   help="delay set: nso (default) or identity")
    g.add_argument("--repeats", type=int, default=2, help="NSO delay repeats (default 2)")
    g.add_argument("--seed", type=seed, default=0, help="design seed (the distinct-variant count)")
    g.add_argument("--batch-size", type=int, default=10_000,
                   help="variants per oracle batch (default 10000)")
    g.add_argument("--shard-size", type=int, default=None,
                   help="variants per actor call (default: one batch)")
    c = p.add_argument_group("the cluster")
    c.add_argument("--gpus", default="1,8,64", help="GPU counts to predict (default 1,8,64)")
    c.add_argument("--throughput", type=float, default=None,
                   help="variants scored per second by one GPU")
    c.add_argument("--load-seconds", type=float, default=None,
                   help="model loading time per GPU (default: measured with --measure, else 0)")
    m = p.add_argument_group("measuring the throughput here (--measure MODEL)")
    m.add_argument("--measure", metavar="MODEL",
                   help="model name or checkpoint to time on this machine's device")
    m.add_argument("--fasta", help="FASTA file with the wild-type sequence (for --measure)")
    m.add_argument("--record", help="record id when the FASTA has several (default: the first)")
    m.add_argument("--sites", help="1-based residue numbers (default: n sites spread evenly)")
    add_model_args(m, scorer_note=", the one timed")
    m.add_argument("--measure-variants", type=int, default=2048,
                   help="variants per timed trial (default 2048; 3 trials after a warm-up)")
    p.add_argument("--json", help="also write the prediction to this JSON file")
    p.set_defaults(func=run)


def parse_gpus(text: str) -> list[int]:
    try:
        counts = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise ValueError(f"--gpus must be comma-separated GPU counts >= 1, e.g. 1,8,64; "
                         f"got {text!r}")
    return sorted(set(counts))


def distinct_queries(q: int, n: int, b: int, num_subsample: int, delays: str, num_repeat: int,
                     seed: int) -> int:
    """Distinct variants of the design ``recover`` builds with these arguments, i.e. the
    oracle calls of the run."""
    from ..fourier.qsft import query_variants

    return int(query_variants(q, n, b, num_subsample, delays, num_repeat, seed).shape[0])


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    return f"{days}d {hours:02d}:{minutes:02d}:{secs:02d}" if days else clock


def read_fasta(path: str, record: str | None) -> tuple[str, str]:
    from Bio import SeqIO

    if not Path(path).is_file():
        raise ValueError(f"--fasta {path}: no such file")
    with open(path) as handle:
        records = list(SeqIO.parse(handle, "fasta"))
    if not records:
        raise ValueError(f"--fasta {path}: no FASTA records found")
    if record is None:
        return records[0].id, str(records[0].seq)
    for r in records:
        if r.id == record:
            return r.id, str(r.seq)
    raise ValueError(f"--record {record!r} is not in {path}; it has {[r.id for r in records][:10]}")


def measure_throughput(args, n: int) -> tuple[float, float, str]:
    """(variants/s, model load seconds, description) of ``args.measure`` on this device.

    Random q = 20 variants of the chosen sites (the forward passes cost the same for any q),
    no score cache, one warm-up call, then the median of 3 timed calls on fresh variants.
    """
    from ..models import OracleSpec

    if not args.fasta:
        raise ValueError("--measure needs --fasta: the protein whose variants are scored")
    if args.measure_variants < 1:
        raise ValueError(f"--measure-variants must be >= 1, got {args.measure_variants}")
    rid, wildtype = read_fasta(args.fasta, args.record)
    if args.sites:
        try:
            sites = tuple(int(s) for s in args.sites.split(","))
        except ValueError:
            raise ValueError(f"--sites must be comma-separated 1-based residue numbers, got "
                             f"{args.sites!r}") from None
        if len(sites) != n:
            raise ValueError(f"--sites names {len(sites)} sites but --n is {n}")
    else:
        if n > len(wildtype):
            raise ValueError(f"--n {n} is more sites than the {len(wildtype)} residues of {rid}")
        sites = tuple(int(s) + 1 for s in np.linspace(0, len(wildtype) - 1, n).round().astype(int))
    spec = OracleSpec(model=args.measure, backend=args.backend, device=args.device,
                      dtype=args.dtype, wildtype=wildtype, sites=sites, q=20, substitutions=None,
                      scorer=args.scorer, **({} if args.model_batch_size is None
                                             else {"batch_size": args.model_batch_size}))
    t0 = time.perf_counter()
    oracle = spec.build(progress=False)
    load_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    m = args.measure_variants
    draws = rng.integers(0, 20, size=(4 * m, n)).astype(np.uint8)
    draws = np.unique(draws, axis=0)
    rng.shuffle(draws)
    trials = [draws[i * m:(i + 1) * m] for i in range(4)]
    trials = [t for t in trials if len(t)]
    oracle(trials[0])  # warm-up: kernels, allocator, autocast caches
    times = []
    for variants in trials[1:] or trials:
        t0 = time.perf_counter()
        oracle(variants)
        times.append((time.perf_counter() - t0) / len(variants))
    rate = 1.0 / float(np.median(times))
    model = oracle.model
    what = (f"{model.name} ({model.backend}, {model.precision}) on {model.device}, {args.scorer}, "
            f"{rid} length {len(wildtype)}, median of {len(times)} trials of {m:,} variants")
    return rate, load_s, what


def measured_rate(oracle, q: int, n: int, budget_s: float = 2.0, most: int = 1024,
                  seed: int = 0) -> tuple[float, int]:
    """(variants/s, variants timed) of `oracle` here, from a short measured batch: one small
    untimed call (model warm-up, the wild-type pass), then batches of random variants
    doubling from 8 until `budget_s` seconds or `most` variants are spent."""
    rng = np.random.default_rng([seed, 0x7173])
    oracle(rng.integers(0, q, size=(2, n)).astype(np.uint8))
    done, spent, size = 0, 0.0, 8
    while spent < budget_s and done < most:
        variants = rng.integers(0, q, size=(size, n)).astype(np.uint8)
        t0 = time.perf_counter()
        oracle(variants)
        spent += time.perf_counter() - t0
        done += size
        size = min(2 * size, most - done) or 1
    return (done / spent if spent > 0 else float("inf")), done


def estimate_line(queries: int, rate: float, timed: int) -> str:
    """'time estimate: ~1:23 for ...': the run's oracle time at a measured rate."""
    seconds = queries / rate if np.isfinite(rate) else 0.0
    return (f"time estimate: ~{format_duration(seconds)} for up to {queries:,} queries at "
            f"{rate:,.0f} variants/s (measured here on {timed:,} variants; decoding adds "
            "little). For more trials and GPU counts: plmscope plan --measure MODEL")


def run(args: argparse.Namespace) -> int:
    from ..distributed import estimate_run
    from ..fourier import qsft

    gpus = parse_gpus(args.gpus)
    the_plan = qsft.plan(args.q, args.n, args.b, args.subsamples, args.delays, args.repeats)
    for name in ("batch_size", "shard_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if (args.throughput is None) == (args.measure is None):
        raise ValueError("give exactly one of --throughput VARIANTS_PER_S (one GPU's rate) and "
                         "--measure MODEL (time it on this machine)")
    if args.throughput is not None:
        if not args.throughput > 0:
            raise ValueError(f"--throughput must be > 0 variants per second, got {args.throughput}")
        rate, load_s, what = args.throughput, 0.0, "given"
    else:
        rate, load_s, what = measure_throughput(args, the_plan.n)
    if args.load_seconds is not None:
        if args.load_seconds < 0:
            raise ValueError(f"--load-seconds must be >= 0, got {args.load_seconds}")
        load_s = args.load_seconds

    print(the_plan)
    if the_plan.num_samples <= EXACT_COUNT_LIMIT:
        queries = distinct_queries(args.q, args.n, args.b, args.subsamples, args.delays,
                                   args.repeats, args.seed)
        counted = f"{queries:,} distinct variants to score (design seed {args.seed})"
    else:
        queries = the_plan.num_samples
        counted = f"at most {queries:,} variants to score (design too large to count here)"
    estimates = [estimate_run(queries, rate, g, args.batch_size, args.shard_size, load_s)
                 for g in gpus]
    print(f"{counted}; {estimates[0].num_shards:,} shard(s) of at most "
          f"{args.shard_size or args.batch_size:,}")
    print(f"per device: {rate:,.1f} variants/s ({what}); model load {load_s:,.1f} s per device")
    first = estimates[0]
    print(f"{'GPUs':>6} {'shards/GPU':>11} {'wall time':>13} {f'vs {first.gpus}':>8} "
          f"{'efficiency':>11} {'GPU-hours':>10}")
    for e in estimates:
        speedup = first.wall_s / e.wall_s if e.wall_s > 0 else 1.0
        print(f"{e.gpus:>6,} {e.max_shards_per_gpu:>11,} {format_duration(e.wall_s):>13} "
              f"{speedup:>7.2f}x {e.efficiency:>10.0%} {e.gpu_hours:>10.2f}")
    if first.num_shards < max(gpus):
        print(f"Only {first.num_shards:,} shard(s): GPUs beyond that sit idle; a smaller "
              "--shard-size (pass the same to the run) spreads the queries over more of them.")
    print("Predicted: every GPU scores at this rate and the driver keeps up; decoding on the "
          "driver (transform and peeling) comes after the queries and does not shrink with GPUs.")
    if args.json:
        record = {"plan": {k: getattr(the_plan, k) for k in the_plan.__dataclass_fields__},
                  "num_queries": queries, "throughput_per_gpu": rate, "throughput_source": what,
                  "load_s": load_s, "batch_size": args.batch_size, "shard_size": args.shard_size,
                  "estimates": [e.__dict__ for e in estimates]}
        Path(args.json).write_text(json.dumps(record, indent=2))
        print(f"wrote {args.json}")
    return 0
