"""`plmscope embed`: embeddings of a FASTA file, streamed to resumable shards.

Also the pieces `plmscope isotropy` and `plmscope align-corr` share: the model options, the
run folder's embedding layout (``<out>/embeddings/<model>/<pooling>-layer<L>/``) and a
shard-by-shard reader, so embeddings on disk stream through the analyses in O(shard) memory.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Iterator

from .. import folders

POOLINGS = ("mean", "cls", "per_residue")


def add_model_arguments(p: argparse.ArgumentParser, several: bool) -> None:
    """--model (repeatable when `several`), --layer, --backend, --device, --dtype, --batch-size."""
    if several:
        p.add_argument("--model", action="append", required=True, metavar="M",
                       help="model name, hub id, .pt file or save_pretrained folder; repeat "
                            "the option to compare several models")
    else:
        p.add_argument("--model", required=True, metavar="M",
                       help="model name, hub id, .pt file or save_pretrained folder")
    p.add_argument("--layer", type=int, default=-1,
                   help="hidden layer to read (0 = token embeddings, -1 = last; default -1)")
    p.add_argument("--backend", choices=("fair-esm", "transformers"), default=None,
                   help="model backend (default: picked from the name)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if any)")
    p.add_argument("--dtype", default=None, choices=("float32", "bfloat16", "float16"),
                   help="weights dtype (default: float32 on CPU, bf16 autocast on GPU)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="sequences per forward pass (halved automatically on out-of-memory)")
    p.add_argument("--shard-size", type=int, default=1024,
                   help="records per embedding shard: the unit of resumption (default 1024)")


def model_slug(name: str) -> str:
    """A folder name for a model given as a name, hub id or path."""
    text = str(name).rstrip("/")
    stem = Path(text).name if ("/" in text and Path(text).exists()) or text.endswith(".pt") \
        else text
    stem = re.sub(r"\.pt$", "", stem)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("_") or "model"


def embedding_dir(out: Path, model: str, pooling: str, layer: int) -> Path:
    return Path(out) / "embeddings" / model_slug(model) / f"{pooling}-layer{layer}"


def load_model(args: argparse.Namespace, name: str):
    from ..models import load

    return load(name, backend=args.backend, device=args.device, dtype=args.dtype)


def embed_into(args: argparse.Namespace, model_name: str, fasta, out: Path, pooling: str,
               model=None) -> tuple[Path, object]:
    """Embed `fasta` with `model_name` into the run folder (resuming finished shards);
    returns (shard folder, loaded model)."""
    from ..models import embed_fasta

    model = model or load_model(args, model_name)
    folder = embedding_dir(out, model_name, pooling, args.layer)
    kwargs = {"layer": args.layer, "pooling": pooling, "shard_size": args.shard_size,
              "progress": None}
    if args.batch_size is not None:
        kwargs["batch_size"] = args.batch_size
    embed_fasta(model, fasta, folder, **kwargs)
    return folder, model


def read_manifest(folder: Path) -> dict:
    path = Path(folder) / "manifest.json"
    if not path.exists():
        raise ValueError(f"{folder} has no manifest.json: run `plmscope embed` into it first")
    from ..folders import read_json

    manifest = read_json(path, "manifest of an embedding folder")
    if not isinstance(manifest, dict) or not manifest.get("complete"):
        raise ValueError(f"{folder} is incomplete; run the command again to finish it")
    return manifest


def iter_shards(folder: Path) -> Iterator[tuple[list[str], object]]:
    """(ids, embeddings) per shard of an embedding folder, in record order: an (n, D) array
    for pooled embeddings, or a list of (L_i, D) arrays for per-residue ones."""
    from ..models.embedding import read_shard

    manifest = read_manifest(folder)
    for k in range(manifest["shards"]):
        yield read_shard(Path(folder) / f"shard-{k:06d}.npz", manifest["pooling"],
                         manifest["embed_dim"], rerun="the same plmscope command")


def read_fasta(fasta) -> tuple[list[str], list[str]]:
    """(ids, sequences) of a FASTA file, with embed_fasta's conventions (a trailing '*'
    dropped; an empty record is an error)."""
    from Bio import SeqIO

    ids, seqs = [], []
    with open(fasta) as fh:
        for number, rec in enumerate(SeqIO.parse(fh, "fasta"), start=1):
            seq = str(rec.seq).strip().rstrip("*")
            if not seq:
                raise ValueError(f"FASTA record {number} ({rec.id!r}) in {fasta} has no residues")
            ids.append(rec.id)
            seqs.append(seq)
    if not ids:
        raise ValueError(f"{fasta} holds no FASTA records")
    return ids, seqs


def check_fasta(path) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise ValueError(f"--fasta {p} is not a file")
    return p


def register(sub) -> None:
    p = sub.add_parser(
        "embed", help="embed a FASTA file into resumable .npz shards",
        description="Embed every protein of a FASTA file with a model and write the "
                    "embeddings to --out: shard-000000.npz, shard-000001.npz, ... (each with "
                    "arrays ids, lengths, embeddings (records x d, float32) and, for "
                    "--pooling per_residue, offsets: record i is rows offsets[i]:offsets[i+1]) "
                    "and manifest.json (model, layer, pooling, d, records, shards). Read them "
                    "back with plmscope.models.read_embeddings(OUT). Rerunning resumes: "
                    "finished shards are kept.")
    p.add_argument("--fasta", required=True, help="protein sequences (FASTA)")
    add_model_arguments(p, several=False)
    p.add_argument("--pooling", choices=POOLINGS, default="mean",
                   help="mean over residues (default), the CLS token, or per residue")
    p.add_argument("--out", required=True, help="folder for the shards and manifest.json")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..models import embed_fasta

    fasta = check_fasta(args.fasta)
    folders.check_owner(args.out, "embed")  # before the model loads
    model = load_model(args, args.model)
    kwargs = {"layer": args.layer, "pooling": args.pooling, "shard_size": args.shard_size,
              "progress": None}
    if args.batch_size is not None:
        kwargs["batch_size"] = args.batch_size
    with folders.claim(args.out, "embed"):
        out = embed_fasta(model, fasta, args.out, **kwargs)
    manifest = read_manifest(out)
    print(f"embedded {manifest['records']} records of {fasta} with {model.name} "
          f"(layer {manifest['layer']}, {manifest['pooling']}, d={manifest['embed_dim']}) "
          f"into {out} ({manifest['shards']} shard(s))")
    return 0
