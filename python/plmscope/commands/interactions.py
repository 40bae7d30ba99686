"""`plmscope interactions`: recover the interactions a model (or a surrogate) encodes over n
sites with q-SFT, measure R^2 on held-out variants, and write a report. Resumable."""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import numpy as np

from . import seed
from .. import folders
from ..folders import read_npz
from ..distributed import add_ray_arguments
from .common import (add_model_args, add_protein_args, add_view_args, check_positive, check_view_args,
                     model_identity, parse_noise, protein_landscape, ray_executor,
                     ray_model_oracle, resolve_view, view_key)

CONFIRM_ABOVE = 1_000_000


def register(sub) -> None:
    p = sub.add_parser(
        "interactions", help="q-SFT of a model's scores over n sites, with R^2 and a report",
        description="Recover the sparse q-ary Fourier transform (the interactions) of a model's "
                    "scores over n sites of a protein, or of a surrogate transform, and write "
                    "tables, figures and report.html into --out. Rerun the same command to "
                    "resume an interrupted run or to show a finished one.")
    src = p.add_argument_group("what to explain (one of)")
    src.add_argument("--model", help="model name (e.g. esm2_t33_650M_UR50D) or local checkpoint")
    src.add_argument("--oracle", help="surrogate:PATH.npz, a SparseFourier file (plmscope or the "
                                      "published coef_index/coef_value format)")
    add_protein_args(p)
    add_model_args(p)
    p.add_argument("--surrogate-noise", default="0",
                   help="noise sd added to the surrogate's answers, or 'residual': the sd of "
                        "its error on the file's held-out set (default 0)")
    p.add_argument("--surrogate-seed", type=seed, default=0, help="seed of the surrogate's noise")
    add_qsft_args(p)
    add_view_args(p)
    p.add_argument("--out", required=True, help="run folder (created; resumed when it exists)")
    add_ray_arguments(p)
    p.set_defaults(func=run)


def add_qsft_args(p) -> None:
    g = p.add_argument_group("q-SFT (defaults: the paper's configuration)")
    g.add_argument("--b", type=int, default=4, help="q^b bins per subsample (default 4)")
    g.add_argument("--subsamples", type=int, default=2, help="subsampling groups C (default 2)")
    g.add_argument("--repeats", type=int, default=2, help="NSO delay repeats (default 2)")
    g.add_argument("--delays", default="nso", choices=("nso", "identity"),
                   help="delay set: nso (noise-robust random offsets; default) or identity "
                        "(0 and e_1..e_n, for noiseless oracles)")
    g.add_argument("--decoder", default="auto", choices=("auto", "regress", "peel"),
                   help="regress: cross-validated sparse regression over every answer, with the "
                        "peeled terms as candidates; peel: the paper's peeling decoder alone; "
                        "auto (default): regress up to 1,000,000 design points, peel above")
    g.add_argument("--noise", default="auto",
                   help="per-query noise sd the decoder assumes, or 'auto' (estimated; default)")
    g.add_argument("--seed", type=seed, default=0, help="seeds the design and the held-out draw")
    g.add_argument("--test", type=int, default=10_000,
                   help="random held-out variants for R^2, none of them a q-SFT query (default "
                        "10000; 0 skips)")
    g.add_argument("--batch-size", type=int, default=10_000,
                   help="variants per oracle call and per checkpoint (default 10000)")
    g.add_argument("--reference-order", type=int, default=2,
                   help="highest order of the mutation-effects table (default 2)")
    g.add_argument("--yes", action="store_true",
                   help="run even when the plan asks more than --confirm-above queries")
    g.add_argument("--confirm-above", type=int, default=CONFIRM_ABOVE,
                   help=f"queries above which --yes is needed (default {CONFIRM_ABOVE:,})")
    g.add_argument("--threads", type=int, default=0, help="CPU threads (0 = all cores)")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    r = p.add_argument_group("self-stopping budget (instead of one fixed q-SFT design)")
    r.add_argument("--budget", choices=("auto",), default=None,
                   help="auto: ask in rounds of doubling size, refit after each, and stop once "
                        "the R^2 gains less than --tolerance (the regression decoder)")
    r.add_argument("--design", choices=("random", "qsft"), default="random",
                   help="what each round asks: random variants (default) or q-SFT groups of "
                        "dimension --b, stopping on --validation random variants")
    r.add_argument("--tolerance", type=float, default=0.005,
                   help="stop once a round gains less R^2 than this (default 0.005)")
    r.add_argument("--start", type=int, default=None,
                   help="random variants in the first round (default: one per candidate term "
                        "of order <= 2, at least 100)")
    r.add_argument("--max-queries", type=int, default=None,
                   help="never ask more (default: --confirm-above, or no cap with --yes)")
    r.add_argument("--validation", type=int, default=None,
                   help="random validation variants of a q-SFT design (default 1000)")


# -- sources -------------------------------------------------------------------------------------

class Source:
    """What the command explains: the oracle to build, its identity and the site labels."""

    def __init__(self, q, n, labels, info, build, extra_tests=None, title=None, wildtype=None,
                 measure=False):
        self.q, self.n, self.labels, self.info = q, n, labels, info
        self.measure = measure             # time a short batch first (a model: slow to ask)
        self.build = build                 # () -> oracle (loads the model if any)
        self.extra_tests = extra_tests or {}
        self.title = title
        self.wildtype = wildtype


def _check_test_set(path: Path, x, y, q: int, n: int):
    """The held-out set stored in a surrogate file, or ValueError naming what is wrong."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or x.shape[1] != n or y.shape != (x.shape[0],):
        raise ValueError(f"{path}: test_x must be (m, n={n}) and test_y (m,), got "
                         f"{x.shape} and {y.shape}")
    if not np.issubdtype(x.dtype, np.integer) or (x.size and (x.min() < 0 or x.max() >= q)):
        raise ValueError(f"{path}: test_x must hold integer states 0..{q - 1}")
    y = np.asarray(y, dtype=np.float64)
    bad = ~np.isfinite(y)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{path}: test_y[{i}] = {y[i]}: {int(bad.sum())} held-out score(s) "
                         "are not finite; remove those variants from test_x/test_y")
    return x.astype(np.uint8), y


def surrogate_source(args) -> Source:
    from ..experiment import transform_digest
    from ..fourier import SparseFourier, SurrogateOracle
    from ..report.tables import SiteLabels

    path = Path(args.oracle.split(":", 1)[1]).expanduser()
    if not path.is_file():
        raise ValueError(f"--oracle surrogate:{path}: no such file; give a SparseFourier .npz")
    data = read_npz(path, "--oracle surrogate file")
    if args.q is None and "q" not in data:
        raise ValueError(f"--oracle surrogate:{path} stores no q (published format); pass --q "
                         "(20 for amino acids)")
    transform = SparseFourier.load(path, q=args.q)
    q, n = transform.q, transform.n
    positions = data.get("positions_0based")
    test = (data["test_x"], data["test_y"]) if {"test_x", "test_y"} <= set(data) else None
    if test is not None:
        test = _check_test_set(path, *test, q, n)
    extra = {}
    if test is not None:
        extra[f"{path.name} held-out set"] = test
    if args.surrogate_noise == "residual":
        if test is None:
            raise ValueError(f"--surrogate-noise residual needs test_x/test_y in {path}; give a "
                             "number instead")
        noise = float(np.std(test[1] - transform.evaluate(test[0])))
    else:
        noise = parse_noise(args.surrogate_noise, "--surrogate-noise")
        if noise == "auto":
            raise ValueError("--surrogate-noise must be a number >= 0 or 'residual'")
    if args.fasta or args.sites:
        _, landscape = protein_landscape(args, q)
        if landscape.n != n:
            raise ValueError(f"--sites names {landscape.n} sites but the surrogate {path.name} "
                             f"has n={n}")
        labels = SiteLabels.of(landscape)
    elif positions is not None and len(positions) == n:
        labels = SiteLabels(tuple(int(p) + 1 for p in positions))
    else:
        labels = SiteLabels.plain(n)
    info = {"kind": "surrogate", "path": str(path.resolve()), "transform": transform_digest(transform),
            "noise_sd": noise, "noise_seed": args.surrogate_seed}

    def build():
        return SurrogateOracle(transform, noise, args.surrogate_seed)

    title = f"Interactions of the surrogate {path.name} (q = {q}, n = {n})"
    return Source(q, n, labels, info, build, extra, title)


def model_source(args, out: Path, on_ray: bool = False) -> Source:
    from ..report.tables import SiteLabels

    q = 20 if args.q is None else args.q
    rid, landscape = protein_landscape(args, q)
    info = {"kind": "model", "model": model_identity(args.model), "backend": args.backend,
            "dtype": args.dtype, "scorer": args.scorer, "wildtype": landscape.wildtype,
            "record": rid, **landscape.to_dict()}

    def build():
        if on_ray:
            return ray_model_oracle(args, landscape)
        from ..models import Oracle, load

        model = load(args.model, backend=args.backend, device=args.device, dtype=args.dtype)
        kwargs = {} if args.model_batch_size is None else {"batch_size": args.model_batch_size}
        return Oracle(model, landscape, args.scorer, cache=out / "scores.sqlite",
                      progress=False if args.no_progress else None, **kwargs)

    title = f"Interactions of {Path(args.model).name} ({args.scorer}) over {landscape.n} sites of {rid}"
    return Source(q, landscape.n, SiteLabels.of(landscape), info, build, None, title,
                  landscape.wildtype, measure=True)


def make_source(args, out: Path, on_ray: bool = False) -> Source:
    if bool(args.model) == bool(args.oracle):
        raise ValueError("give exactly one of --model NAME_OR_CHECKPOINT and --oracle "
                         "surrogate:PATH.npz")
    if args.oracle:
        if not args.oracle.startswith("surrogate:"):
            raise ValueError(f"--oracle {args.oracle!r}: the supported oracle is "
                             "surrogate:PATH.npz (a SparseFourier file)")
        return surrogate_source(args)
    if args.q is not None and not 2 <= args.q <= 20:
        raise ValueError(f"--q {args.q}: a model's variants have 2..20 states per site")
    return model_source(args, out, on_ray)


# -- the command -----------------------------------------------------------------------------

def confirm(the_plan, args) -> None:
    """Refuse (or, on a terminal, ask) when the plan is larger than --confirm-above."""
    if the_plan.num_samples <= args.confirm_above or args.yes:
        return
    text = (f"this run asks up to {the_plan.num_samples:,} queries, more than --confirm-above "
            f"{args.confirm_above:,}")
    if sys.stdin.isatty() and sys.stdout.isatty():
        answer = input(f"{text}. Run it? [y/N] ").strip().lower()
        if answer in ("y", "yes"):
            return
    raise ValueError(f"{text}; pass --yes to run it (or lower --b / --subsamples / --repeats). "
                     "How long it would take: plmscope plan --measure MODEL --fasta WT.fasta "
                     f"--q {the_plan.q} --n {the_plan.n} --b {the_plan.b} --subsamples "
                     f"{the_plan.num_subsample} --repeats {the_plan.num_repeat}")


def run(args: argparse.Namespace) -> int:
    check_positive(args, "b", "subsamples", "repeats", "batch_size", "reference_order")
    check_view_args(args)
    if args.test < 0:
        raise ValueError(f"--test must be >= 0 held-out variants, got {args.test}")
    noise = parse_noise(args.noise)
    out = Path(args.out)
    if args.budget is not None:
        check_budget_args(args)
    with folders.claim(out, "interactions"):
        return _run(args, out, noise)


def check_budget_args(args) -> None:
    """--budget auto's own arguments, refused before anything starts."""
    if not (args.tolerance >= 0 and args.tolerance < 1):
        raise ValueError(f"--tolerance must be an R^2 gain in [0, 1), got {args.tolerance}")
    for name in ("start", "max_queries", "validation"):
        value = getattr(args, name)
        low = 0 if name == "validation" else 10
        if value is not None and value < low:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} must be >= {low}, got {value}")
    if args.max_queries is None and not args.yes:
        args.max_queries = args.confirm_above


def _run(args: argparse.Namespace, out: Path, noise) -> int:
    from ..experiment import budget_line, interactions_config, run_interactions
    from ..fourier import qsft
    from ..report.interactions import summary_lines
    from ..run_folder import RunFolder, release_oracle

    executor = ray_executor(args)
    source = make_source(args, out, on_ray=executor is not None)
    if args.budget is not None:
        return _run_budget(args, out, source, executor)
    the_plan = qsft.plan(source.q, source.n, args.b, args.subsamples, args.delays, args.repeats)
    config = interactions_config(source.info, the_plan, noise, args.seed, args.test,
                                 args.batch_size, source.labels, args.decoder)
    folder = RunFolder(out, config)
    folder.check()
    if folder.is_finished():
        return _finished(folder, out, args, source)
    print(budget_line(the_plan, source.q, source.n))
    confirm(the_plan, args)
    # the design (which checks the memory) before the model: a run too large for this
    # machine is refused before minutes of loading
    design = qsft.make_design(the_plan, args.seed, args.threads)
    # the folder before the oracle, whose score cache lives there; a failed load undoes it
    with folder.created():
        oracle = source.build()
        view = resolve_view(args, source.q, source.n, source.labels, source.wildtype, oracle)
    try:
        if source.measure and executor is None:  # with --ray the model lives on the actors
            from .plan import estimate_line, measured_rate

            rate, timed = measured_rate(oracle, source.q, source.n, seed=args.seed)
            print(estimate_line(the_plan.num_samples + args.test, rate, timed))
        # the q-SFT queries and the held-out set on the same actors: one model load each
        with executor if executor is not None else contextlib.nullcontext():
            result = run_interactions(
                oracle, source.q, source.n, args.b, num_subsample=args.subsamples,
                num_repeat=args.repeats, delays=args.delays, noise_sd=noise, seed=args.seed,
                test=args.test, out=out, labels=source.labels, oracle_info=source.info,
                title=source.title, extra_tests=source.extra_tests, batch_size=args.batch_size,
                reference_order=args.reference_order,
                progress=False if args.no_progress else None, nthreads=args.threads, log=print,
                executor=executor, decoder=args.decoder, view=view, design=design)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the answers so far are saved in {out}; run the same command "
              "again to resume", file=sys.stderr)
        return 130
    finally:  # also when stopped: the score cache is left one whole file
        release_oracle(oracle)
    return _finish(out, summary_lines, result.summary)


def _run_budget(args, out: Path, source, executor) -> int:
    """--budget auto: the rounds, the held-out R^2 and the report in the run folder."""
    from ..experiment import rounds_config, run_interactions
    from ..fourier import qsft
    from ..report.interactions import summary_lines
    from ..run_folder import RunFolder, release_oracle

    if args.design == "qsft":
        group = qsft.plan(source.q, source.n, args.b, 1, args.delays, args.repeats).num_samples
        if args.max_queries is not None and group > args.max_queries:
            raise ValueError(f"one q-SFT group of --b {args.b} asks {group:,} queries, more than "
                             f"--max-queries {args.max_queries:,}: lower --b (or raise "
                             "--max-queries)")
    config = rounds_config(source.info, source.q, source.n, args.b, args.repeats, args.delays,
                           args.seed, args.test, args.batch_size, source.labels, args.design,
                           args.tolerance, args.start, args.max_queries, args.validation)
    folder = RunFolder(out, config)
    folder.check()
    if folder.is_finished():
        return _finished(folder, out, args, source)
    cap = "no cap" if args.max_queries is None else f"at most {args.max_queries:,} queries"
    print(f"budget auto: {args.design} rounds of doubling size until a round gains less than "
          f"{args.tolerance:g} R^2 ({cap}); then {args.test:,} held-out variants")
    with folder.created():
        oracle = source.build()
        view = resolve_view(args, source.q, source.n, source.labels, source.wildtype, oracle)
    try:
        with executor if executor is not None else contextlib.nullcontext():
            result = run_interactions(
                oracle, source.q, source.n, args.b, num_repeat=args.repeats, delays=args.delays,
                seed=args.seed, test=args.test, out=out, labels=source.labels,
                oracle_info=source.info, title=source.title, extra_tests=source.extra_tests,
                batch_size=args.batch_size, reference_order=args.reference_order,
                progress=False if args.no_progress else None, nthreads=args.threads, log=print,
                executor=executor, view=view, budget="auto", round_design=args.design,
                tolerance=args.tolerance, start=args.start, max_queries=args.max_queries,
                validation=args.validation)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the answers so far are saved in {out}; run the same command "
              "again to resume", file=sys.stderr)
        return 130
    finally:
        release_oracle(oracle)
    return _finish(out, summary_lines, result.summary)


def _finished(folder, out: Path, args, source) -> int:
    """A finished run with these arguments: its summary again (and a --view it lacks)."""
    from ..experiment import SUMMARY_KEYS
    from ..report.interactions import summary_lines

    print(f"{out} holds a finished run with these arguments; nothing recomputed.")
    summary = folder.load_summary(SUMMARY_KEYS)
    if args.view is not None and (summary.get("view") or {}).get("given") != view_key(args):
        summary = _add_view(out, args, source)
    return _finish(out, summary_lines, summary)


def _add_view(out: Path, args, source) -> dict:
    """The view of a finished run added to its tables and report (the model, if the view
    needs its marginals, is loaded; nothing else is recomputed)."""
    from ..experiment import load_interactions
    from ..run_folder import release_oracle, run_files, write_json
    from ..fourier import SparseFourier
    from ..report.interactions import write_interactions_report
    from ..report.tables import SiteLabels

    oracle = source.build() if args.weights == "model" else None
    try:
        view = resolve_view(args, source.q, source.n, source.labels, source.wildtype, oracle)
    finally:
        if oracle is not None:
            release_oracle(oracle)
    result = load_interactions(out, report=False)
    summary = result.summary
    truth = SparseFourier.load(out / "truth.npz") if (out / "truth.npz").exists() else None
    summary["view"] = view.to_dict()
    write_interactions_report(out, result.transform, summary,
                              SiteLabels.from_dict(summary["sites"]), result.test_y,
                              result.test_yhat, args.reference_order, truth, view,
                              stages=result.stages)
    summary["files"] = run_files(out)
    write_json(out / "summary.json", summary)
    return summary


def _finish(out: Path, summary_lines, summary: dict) -> int:
    print("\n".join(summary_lines(summary)))
    print(f"report: {out / 'report.html'}")
    return 0
