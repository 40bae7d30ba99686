"""Helpers the commands share: the protein and model arguments, --noise, --view, and the
Ray executor and model oracle. One module, so that no command imports another."""
from __future__ import annotations

from pathlib import Path

import numpy as np

SCORERS = ("pllr", "masked_marginal", "wt_marginal")


# -- arguments ----------------------------------------------------------------------------------

def add_protein_args(p) -> None:
    g = p.add_argument_group("protein")
    g.add_argument("--fasta", help="FASTA file with the wild-type sequence")
    g.add_argument("--record", help="record id (or 1-based number) when the FASTA has several")
    g.add_argument("--sites", help="1-based residue numbers, e.g. 12,15,6 (or Y12,K15 to check "
                                   "the wild-type residues)")
    g.add_argument("--q", type=int, default=None,
                   help="states per site: 20 = every amino acid (default), 2 = wild type or one "
                        "substitute")
    g.add_argument("--substitutions",
                   help="substitute residues per site for q < 20: comma-separated, q-1 letters "
                        "per site (q = 2: one letter per site, e.g. A,G,W)")


def add_model_args(p, scorer: str = "pllr", scorer_note: str = "") -> None:
    """The model options every model-scoring command takes (--scorer, --backend, --device,
    --dtype, --model-batch-size), with one wording; `p` is a parser or an argument group."""
    p.add_argument("--scorer", default=scorer, choices=SCORERS,
                   help=f"model score (default {scorer}{scorer_note})")
    p.add_argument("--backend", help="model backend (fair-esm or transformers; default: automatic)")
    p.add_argument("--device", help="model device (cpu, cuda, cuda:1; default: automatic)")
    p.add_argument("--dtype", help="model precision (float32, bfloat16, float16, or bf16-autocast: "
                   "float32 weights, bf16 products; about 2x on CPUs with AVX512-BF16)")
    p.add_argument("--model-batch-size", type=int, default=None,
                   help="sequences per forward pass (default: the models layer's)")


def add_view_args(p) -> None:
    g = p.add_argument_group("view of the interactions (plmscope.landscape.background)")
    g.add_argument("--view", choices=("fourier", "reference", "weighted"),
                   help="also tabulate the effects against a background (effects_VIEW.csv and "
                        "a report section): fourier = every residue equally, reference = "
                        "relative to the wild type, weighted = residues weighted by --weights")
    g.add_argument("--weights",
                   help="background of --view weighted: uniform, wildtype, model (the model's "
                        "wild-type marginals; --model runs without --ray) or alignment:PATH "
                        "(residue frequencies of an alignment whose first sequence is the wild "
                        "type; FASTA, Clustal .aln or Stockholm .sto)")
    g.add_argument("--pseudocount", type=float, default=1.0,
                   help="added to every state's count of --weights alignment:PATH (default 1)")


def check_view_args(args) -> None:
    if args.weights is not None and args.view != "weighted":
        raise ValueError(f"--weights {args.weights} sets the background of --view weighted; "
                         "add --view weighted (or leave --weights out)")
    if args.view == "weighted" and args.weights is None:
        raise ValueError("--view weighted needs --weights: uniform, wildtype, model or "
                         "alignment:PATH")
    if not args.pseudocount >= 0:
        raise ValueError(f"--pseudocount must be >= 0, got {args.pseudocount}")
    if args.weights is not None and not (args.weights in ("uniform", "wildtype", "model")
                                         or args.weights.startswith("alignment:")):
        raise ValueError(f"--weights {args.weights!r}: choose uniform, wildtype, model or "
                         "alignment:PATH")


def resolve_view(args, q: int, n: int, labels, wildtype: str | None, oracle=None):
    """The ViewSpec of --view/--weights (None without --view). `oracle`: the run's oracle,
    asked for its wild-type marginals by --weights model."""
    from ..report.tables import ViewSpec

    if args.view is None:
        return None
    name, weights, source = _view_weights(args, q, n, labels, wildtype, oracle)
    return ViewSpec(name, weights, source, view_key(args))


def _view_weights(args, q, n, labels, wildtype, oracle) -> tuple[str, np.ndarray, str]:
    from ..landscape import background

    if args.view == "fourier":
        return "fourier", background.uniform_weights(q, n), "uniform"
    if args.view == "reference":
        return "reference", background.wildtype_weights(q, n), "wild type"
    kind = args.weights
    if kind == "uniform":
        return "weighted", background.uniform_weights(q, n), "uniform"
    if kind == "wildtype":
        return "weighted", background.wildtype_weights(q, n), "wild type"
    if kind == "model":
        if oracle is None or not hasattr(oracle, "wildtype_marginals"):
            raise ValueError("--weights model needs the model in this process: a --model run "
                             "without --ray (or use alignment:PATH)")
        return ("weighted", oracle.wildtype_marginals(),
                f"wild-type marginals of {Path(args.model).name}")
    path = kind.split(":", 1)[1]
    if labels.residues is None:
        raise ValueError(f"--weights {kind}: the run does not know its residues (a surrogate "
                         "without --fasta/--sites), so alignment columns cannot be matched "
                         "to its states")
    counts = background.alignment_frequencies(path, labels.numbers, wildtype)
    weights = background.residue_weights(counts, labels.residues, args.pseudocount)
    return "weighted", weights, f"alignment {Path(path).name}, pseudocount {args.pseudocount:g}"


def check_positive(args, *names) -> None:
    for name in names:
        value = getattr(args, name)
        if value is None or value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")


def parse_noise(text: str, flag: str = "--noise"):
    if text == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{flag} {text!r} must be 'auto' or a number >= 0") from None
    if not value >= 0 or not np.isfinite(value):
        raise ValueError(f"{flag} {text!r} must be 'auto' or a finite number >= 0")
    return value


def parse_substitutions(text: str | None, q: int, n: int):
    """None for q = 20; a list of n strings of q - 1 letters otherwise."""
    if text is None:
        if q != 20:
            raise ValueError(f"--q {q} needs --substitutions: {q - 1} substitute residue(s) for "
                             f"each of the {n} sites, comma-separated (q = 2: e.g. A,G,W)")
        return None
    items = [s.strip().upper() for s in text.split(",")]
    if q == 2 and len(items) == 1 and len(items[0]) == n:
        items = list(items[0])
    if len(items) != n:
        raise ValueError(f"--substitutions has {len(items)} entries for {n} sites; give "
                         f"{q - 1} letter(s) per site, comma-separated")
    return items


def view_key(args) -> str:
    """The --view request as summary.json records it, to tell whether a finished run shows
    it already."""
    if args.view != "weighted":
        return args.view
    extra = f" pseudocount {args.pseudocount:g}" if args.weights.startswith("alignment:") else ""
    return f"weighted {args.weights}{extra}"



# -- the protein ----------------------------------------------------------------------------------

def protein_inputs(args) -> tuple[str, str, list[int]]:
    """(record id, wild-type sequence, 1-based sites) from --fasta/--record/--sites."""
    from ..wildtype import parse_sites, read_wildtype

    if not args.fasta:
        raise ValueError("--fasta is required: the FASTA file with the wild-type sequence")
    rid, wildtype = read_wildtype(args.fasta, args.record)
    if not args.sites:
        raise ValueError("--sites is required: 1-based residue numbers, e.g. --sites 12,15,6")
    return rid, wildtype, parse_sites(args.sites, wildtype)


def protein_landscape(args, q: int):
    """(record id, Landscape) from --fasta/--record/--sites/--q/--substitutions."""
    rid, wildtype, sites = protein_inputs(args)
    subs = parse_substitutions(args.substitutions, q, len(sites))
    from ..landscape import Landscape

    return rid, Landscape(wildtype, sites, q, subs)



# -- models and Ray -------------------------------------------------------------------------------

def ray_executor(args):
    """The executor of the --ray flags (None without --ray: ask in this process)."""
    from ..distributed import executor_from_args

    if args.ray is not None and getattr(args, "device", None):
        raise ValueError(f"--device {args.device} with --ray {args.ray}: each Ray actor uses the "
                         "GPU Ray gives it (else its CPU); leave --device out, and size the "
                         "actors with --ray-gpus / --ray-cpus")
    return executor_from_args(args.ray, args.ray_actors, args.ray_gpus, args.ray_cpus,
                              args.ray_shard_size, progress=False if args.no_progress else None)


def ray_model_oracle(args, landscape):
    """The model oracle of a --ray run, known by its spec only: each actor loads the model on
    its own device, this process never does. No score cache (the actors of other nodes may
    not see the run folder); the run's query store still resumes it batch by batch."""
    from ..distributed import LazyOracle
    from ..models import OracleSpec
    from ..models.batching import DEFAULT_BATCH_SIZE

    path = Path(args.model).expanduser()  # a checkpoint by absolute path, whatever the actor's cwd
    batch_size = DEFAULT_BATCH_SIZE if args.model_batch_size is None else args.model_batch_size
    return LazyOracle(OracleSpec(
        model=str(path.resolve()) if path.exists() else args.model, backend=args.backend,
        device=None, dtype=args.dtype, wildtype=landscape.wildtype, sites=tuple(landscape.sites),
        q=landscape.q, substitutions=tuple(landscape.substitutions), scorer=args.scorer,
        batch_size=batch_size))


def model_identity(name: str) -> str:
    """A hub name as is; a local checkpoint as its absolute path plus a content digest, so
    a retrained file at the same path is a different model."""
    path = Path(name).expanduser()
    if not path.exists():
        return name
    from ..models.loading import content_digest

    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return f"{path.resolve()}#{content_digest(files)}"
