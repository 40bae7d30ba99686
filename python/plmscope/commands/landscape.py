"""`plmscope landscape`: full landscapes (every variant scored) and their sparsity,
ruggedness and variance by order, from a score file or by enumerating a model or surrogate."""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import numpy as np

from . import seed
from .. import folders
from ..folders import read_npz, scalar_int
from ..distributed import add_ray_arguments
from .common import (add_model_args, add_protein_args, check_positive, model_identity, parse_noise,
                     ray_executor, ray_model_oracle)

MAX_VARIANTS = 1 << 20


def register(sub) -> None:
    p = sub.add_parser(
        "landscape", help="sparsity, ruggedness and variance by order of full landscapes",
        description="Metrics of full landscapes (docs/conventions.md): from a score file (--scores, the "
                    "format of esm2-q2-landscapes) or by scoring every variant with a model or "
                    "surrogate (refused above --max-variants).")
    p.add_argument("--scores", help="npz with 'scores' (rows x q^n, flat order of docs/conventions.md)")
    p.add_argument("--key", default="scores", help="array name in --scores (default scores)")
    p.add_argument("--model", help="model name or local checkpoint to enumerate")
    p.add_argument("--oracle", help="surrogate:PATH.npz to enumerate")
    add_protein_args(p)
    p.add_argument("--repeats", type=int, default=1,
                   help="landscapes with a fresh random choice of substitutes per site "
                        "(q < 20, model only; the paper: q = 2, 19 repeats)")
    add_model_args(p)
    p.add_argument("--surrogate-noise", default="0", help="noise sd of the surrogate's answers")
    p.add_argument("--surrogate-seed", type=seed, default=0, help="seed of the surrogate's noise")
    p.add_argument("--seed", type=seed, default=0, help="seeds the random substitutes")
    p.add_argument("--label", help="label of these landscapes in `plmscope plane`")
    p.add_argument("--max-variants", type=int, default=MAX_VARIANTS,
                   help=f"refuse enumerations above this many scores (default {MAX_VARIANTS:,})")
    p.add_argument("--batch-size", type=int, default=10_000,
                   help="variants per oracle call and per checkpoint (default 10000)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--out", help="folder for landscape.npz, metrics.csv, figures and report.html "
                                 "(required when enumerating)")
    add_ray_arguments(p)
    p.set_defaults(func=run)


def load_scores(path: str | Path, key: str = "scores", q: int | None = None):
    """(scores (R, q^n) float64, q, fields) of a score file; fields holds the other arrays
    (label, protein, positions_1based, published_*)."""
    from .._checks import qary_log

    path = Path(path)
    data = read_npz(path, "--scores")
    if key not in data:
        raise ValueError(f"--scores {path} has no array {key!r} (it has {sorted(data)}); "
                         "choose one with --key")
    try:
        scores = np.atleast_2d(np.asarray(data[key], dtype=np.float64))
    except (TypeError, ValueError):
        raise ValueError(f"--scores {path}: {key} holds {data[key].dtype} values, not numbers") \
            from None
    fields = {k: v for k, v in data.items() if k != key}
    stored_q = scalar_int(fields["q"], f"q stored in --scores {path}") if "q" in fields else None
    if q is None:
        q = stored_q if stored_q is not None else 2
    elif stored_q is not None and stored_q != q:
        raise ValueError(f"--q {q} but {path} stores q={stored_q}")
    if scores.ndim != 2:
        raise ValueError(f"--scores {path}: {key} must be rows x q^n, got shape {scores.shape}")
    if scores.shape[0] == 0:
        raise ValueError(f"--scores {path}: {key} holds no rows (shape {scores.shape}); give a "
                         "file with at least one landscape")
    try:
        qary_log(scores.shape[1], q)
    except ValueError:
        raise ValueError(f"--scores {path}: rows of {scores.shape[1]} scores are not q^n for "
                         f"q={q}; pass the right --q") from None
    return scores, q, fields


def text_field(fields: dict, name: str, default: str = "") -> str:
    if name not in fields:
        return default
    value = fields[name]
    return str(value.item() if value.ndim == 0 else value)


def random_substitutions(rng, wildtype: str, sites, q: int) -> list[str]:
    """q - 1 distinct random substitutes per site (never the wild-type residue)."""
    from ..landscape import ALPHABET

    out = []
    for s in sites:
        pool = ALPHABET.replace(wildtype[s - 1], "")
        out.append("".join(rng.choice(list(pool), size=q - 1, replace=False)))
    return out


def source_text(info: dict) -> str:
    """What was enumerated, in words (the run configuration holds the details)."""
    if info["kind"] == "surrogate":
        return f"surrogate {Path(info['path']).name}, noise sd {info['noise_sd']:.3g}"
    sites = ",".join(str(s) for s in info["sites"])
    return (f"model {Path(str(info['model']).split('#')[0]).name} ({info['scorer']}), "
            f"{info['record']} sites {sites}, q = {info['q']}")


def run(args: argparse.Namespace) -> int:
    if args.scores:
        if args.model or args.oracle:
            raise ValueError("give --scores, or --model/--oracle to enumerate, not both")
        if args.ray is not None:
            raise ValueError(f"--ray {args.ray} scores variants with a model or surrogate; "
                             "--scores reads them from a file, so there is nothing to run there")
        if not args.out:
            return run_scores(args)
        with folders.claim(args.out, "landscape"):
            return run_scores(args)
    if bool(args.model) == bool(args.oracle):
        raise ValueError("give --scores FILE.npz, or exactly one of --model and --oracle "
                         "surrogate:PATH.npz to enumerate every variant")
    if not args.out:
        raise ValueError("--out is required when enumerating: the folder that keeps the scores "
                         "(resumable) and the report")
    with folders.claim(args.out, "landscape"):
        return run_enumeration(args)


def run_scores(args) -> int:
    from ..run_folder import RunFolder
    from ..landscape import spectrum_metrics
    from ..report.landscape import (landscape_summary, metrics_frame, summary_lines,
                                    write_landscape_report)

    scores, q, fields = load_scores(args.scores, args.key, args.q)
    metrics = [spectrum_metrics(row, q) for row in scores]
    published = {k: fields[k] for k in ("published_sparsity", "published_ruggedness")
                 if k in fields and fields[k].shape == (scores.shape[0],)}
    label = args.label or text_field(fields, "label", Path(args.scores).stem)
    summary = landscape_summary(metrics, f"{label}: {Path(args.scores).name}", str(args.scores),
                                published)
    frame = metrics_frame(metrics, published)
    cols = ["row", "sparsity", "ruggedness"] + list(published)
    print(frame[cols].to_string(index=False, float_format=lambda v: f"{v:.6f}"))
    print("\n".join(summary_lines(summary)))
    if args.out:
        out = Path(args.out)
        folder = RunFolder(out, {"kind": "landscape-scores", "scores": str(Path(args.scores)
                                                                          .resolve()),
                                 "key": args.key, "q": q, "label": label})
        folder.check()
        folder.create()
        save_landscape(out, scores, q, label, fields, summary)
        write_landscape_report(out, metrics, summary, published)
        print(f"report: {out / 'report.html'}")
    return 0


def save_landscape(out: Path, scores, q, label, fields, summary, extra=None) -> None:
    from ..run_folder import write_json
    from ..report.landscape import LANDSCAPE_FILE

    keep = {k: v for k, v in fields.items() if k not in ("label", "q") and v.dtype != object}
    np.savez(out / LANDSCAPE_FILE, scores=scores, q=np.array(q), label=np.array(label),
             **keep, **(extra or {}))
    write_json(out / "summary.json", summary)


def run_enumeration(args) -> int:
    from ..run_folder import RunFolder, ask_stored, release_oracle
    from ..fourier import SparseFourier, SurrogateOracle
    from ..landscape import spectrum_metrics
    from ..report.landscape import landscape_summary, summary_lines, write_landscape_report

    check_positive(args, "repeats", "batch_size", "max_variants")
    out = Path(args.out)
    progress = False if args.no_progress else None
    executor = ray_executor(args)
    if args.oracle:
        if not args.oracle.startswith("surrogate:"):
            raise ValueError(f"--oracle {args.oracle!r}: the supported oracle is surrogate:PATH.npz")
        path = Path(args.oracle.split(":", 1)[1]).expanduser()
        if not path.is_file():
            raise ValueError(f"--oracle surrogate:{path}: no such file")
        if args.q is None and "q" not in read_npz(path, "--oracle surrogate file"):
            raise ValueError(f"--oracle surrogate:{path} stores no q; pass --q")
        transform = SparseFourier.load(path, q=args.q)
        q, n = transform.q, transform.n
        if args.repeats != 1:
            raise ValueError(f"--repeats {args.repeats}: a surrogate is one landscape; use --repeats 1")
        noise = parse_noise(args.surrogate_noise, "--surrogate-noise")
        if noise == "auto":
            raise ValueError("--surrogate-noise must be a number >= 0")
        from ..experiment import transform_digest

        info = {"kind": "surrogate", "path": str(path.resolve()),
                "transform": transform_digest(transform), "noise_sd": noise,
                "noise_seed": args.surrogate_seed}
        label = args.label or path.stem
        fields = {}
        rows = [None]
    else:
        from ..landscape import Landscape
        from .common import parse_substitutions, protein_inputs

        q = 20 if args.q is None else args.q
        if not 2 <= q <= 20:
            raise ValueError(f"--q {q}: a model's variants have 2..20 states per site")
        if q == 20 and args.repeats != 1:
            raise ValueError(f"--repeats {args.repeats}: with q = 20 every residue is a state, "
                             "so there is one landscape; use --repeats 1")
        if args.substitutions and args.repeats != 1:
            raise ValueError("--substitutions fixes the substitutes, so --repeats must be 1 "
                             "(leave --substitutions out to draw random ones per repeat)")
        rid, wildtype, sites = protein_inputs(args)
        fixed = None
        if args.substitutions:
            fixed = parse_substitutions(args.substitutions, q, len(sites))
            Landscape(wildtype, sites, q, fixed)  # checks them now, before any scoring
        n = len(sites)
        rng = np.random.default_rng(args.seed)
        if q == 20:
            rows = [None]
        elif fixed is not None:
            rows = [fixed]
        else:
            rows = [random_substitutions(rng, wildtype, sites, q) for _ in range(args.repeats)]
        info = {"kind": "model", "model": model_identity(args.model), "backend": args.backend,
                "dtype": args.dtype, "scorer": args.scorer, "wildtype": wildtype,
                "record": rid, "sites": sites, "q": q, "rows": rows}
        label = args.label or rid
        fields = {"positions_1based": np.array(sites, dtype=np.int64),
                  "protein": np.array(rid), "scorer": np.array(args.scorer),
                  "substitutions": np.array(["".join(r) if r else "" for r in rows])}
    total = len(rows) * q**n
    if total > args.max_variants:
        raise ValueError(
            f"full enumeration needs {len(rows)} x q^n = {len(rows)} x {q}^{n} = {total:,} "
            f"scores, above --max-variants {args.max_variants:,}; use fewer sites or a smaller "
            "q, raise --max-variants, or recover the interactions with `plmscope interactions`")
    folder = RunFolder(out, {"kind": "landscape", "oracle": info, "q": q, "n": n,
                             "batch_size": args.batch_size, "label": label})
    folder.check()
    if folder.is_finished():
        print(f"{out} holds a finished landscape run with these arguments; nothing recomputed.")
        print("\n".join(summary_lines(folder.load_summary())))
        print(f"report: {out / 'report.html'}")
        return 0
    model = None
    with folder.created():  # a model that cannot be loaded leaves no run behind
        if args.model and executor is None:  # with --ray the actors load it, not this process
            from ..models import load

            model = load(args.model, backend=args.backend, device=args.device, dtype=args.dtype)
    print(f"scoring every variant: {len(rows)} landscape(s) x {q}^{n} = {total:,} queries")
    if model is not None:  # a model is slow to ask: time a short batch, say how long
        from ..models import Oracle
        from .plan import estimate_line, measured_rate

        rate, timed = measured_rate(Oracle(model, Landscape(wildtype, sites, q, rows[0]),
                                           args.scorer, progress=False), q, n, seed=args.seed)
        print(estimate_line(total, rate, timed))
    grid = np.indices((q,) * n).reshape(n, -1).T.astype(np.uint8)  # flat order of docs/conventions.md
    scores = np.empty((len(rows), q**n))
    try:
        # one set of actors for all rows: each loads the model once for every landscape
        with executor if executor is not None else contextlib.nullcontext():
            for r, subs in enumerate(rows):
                if args.oracle:
                    oracle = SurrogateOracle(transform, noise, args.surrogate_seed)
                elif executor is not None:  # the actors load the model, not this process
                    oracle = ray_model_oracle(args, Landscape(wildtype, sites, q, subs))
                else:
                    from ..models import Oracle

                    kwargs = {} if args.model_batch_size is None \
                        else {"batch_size": args.model_batch_size}
                    oracle = Oracle(model, Landscape(wildtype, sites, q, subs),
                                    args.scorer, cache=out / "scores.sqlite", progress=progress,
                                    **kwargs)
                try:
                    scores[r] = ask_stored(oracle, grid, out / "queries" / f"row{r:04d}",
                                           {"purpose": "full landscape", "row": r, "q": q,
                                            "n": n},
                                           args.batch_size, progress,
                                           f"landscape {r + 1}/{len(rows)}", executor)
                finally:  # a model oracle's score cache: one whole file, no journal beside it
                    release_oracle(oracle)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the scores so far are saved in {out}; run the same command again "
              "to resume", file=sys.stderr)
        return 130
    metrics = [spectrum_metrics(row, q) for row in scores]
    summary = landscape_summary(metrics, f"{label}: full landscape(s) of {q}^{n} variants",
                                source_text(info), None)
    save_landscape(out, scores, q, label, fields, summary)
    write_landscape_report(out, metrics, summary)
    print("\n".join(summary_lines(summary)))
    print(f"report: {out / 'report.html'}")
    return 0
