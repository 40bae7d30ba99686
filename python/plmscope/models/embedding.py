"""Embeddings of protein sequences: pooled over residues (special and pad tokens excluded),
in memory or streamed from FASTA to resumable ``.npz`` shards."""
from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from .._checks import check_int
from ..folders import atomic_target, damage_reason, read_json
from .batching import DEFAULT_BATCH_SIZE, check_batch_size, length_groups, run_batches
from .model import ProteinModel

POOLINGS = ("mean", "cls", "per_residue")
_FORMAT = "plmscope.embeddings/1"


def _check_pooling(pooling) -> str:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    return pooling


def _check_sequences(model: ProteinModel, sequences, names=None) -> list[str]:
    if isinstance(sequences, str):
        raise ValueError("sequences must be a list of sequences, got one string; wrap it in a list")
    seqs = list(sequences)
    for i, s in enumerate(seqs):
        label = f"sequences[{i}]" if names is None else f"record {names[i]!r}"
        if not isinstance(s, str):
            raise ValueError(f"{label} must be a string, got {type(s).__name__}")
        if not s:
            raise ValueError(f"{label} is empty; every sequence needs at least one residue")
        model.tokenization.residue_ids(s, i)
        model.check_length(len(s), label)
    return seqs


def embed(model: ProteinModel, sequences, layer: int = -1, pooling: str = "mean",
          batch_size: int = DEFAULT_BATCH_SIZE, progress=None):
    """Embeddings of `sequences` at `layer` (0 = token embeddings, -1 = the last layer).

    pooling "mean": (N, D) float32 mean over residue positions; "cls": (N, D) the CLS token
    (ESM, ProtBERT, ProtXLNet); "per_residue": a list of (L_i, D) float32 arrays, one row per
    residue. Special tokens (CLS, EOS/SEP) and padding never enter a pooled embedding.
    """
    _check_pooling(pooling)
    layer = model.check_layer(layer)
    batch_size = check_batch_size(batch_size)
    seqs = _check_sequences(model, sequences)
    if pooling == "cls" and model.tokenization.cls_index is None:
        raise ValueError(f"pooling='cls' needs a CLS token, which {model.name} ({model.family}) "
                         "has not; use pooling='mean'")
    N, D = len(seqs), model.embed_dim
    pooled = np.zeros((N, D), dtype=np.float32)
    per_residue: list = [None] * N
    if N == 0:
        return [] if pooling == "per_residue" else pooled
    order = np.concatenate(length_groups([len(s) for s in seqs], batch_size))

    def step(a: int, b: int) -> None:
        idx = order[a:b]
        batch = model.tokenize([seqs[i] for i in idx])
        with model.inference():
            h = model.hidden(batch.ids, batch.attention_mask, layer).float()
            if pooling == "mean":
                mask = batch.residue_mask().unsqueeze(-1).to(h.dtype)
                lengths = torch.as_tensor(batch.lengths, device=h.device, dtype=h.dtype)
                pooled[idx] = ((h * mask).sum(dim=1) / lengths[:, None]).cpu().numpy()
            elif pooling == "cls":
                pos = torch.as_tensor(model.tokenization.cls_positions(batch), device=h.device)
                pooled[idx] = h[torch.arange(len(idx), device=h.device), pos].cpu().numpy()
            else:
                hc = h.cpu().numpy()
                for j, i in enumerate(idx):
                    s0 = int(batch.starts[j])
                    per_residue[i] = hc[j, s0:s0 + int(batch.lengths[j])].copy()

    run_batches(model, N, batch_size, step, progress, f"embed {model.name}")
    return per_residue if pooling == "per_residue" else pooled


# -- FASTA to shards ------------------------------------------------------------------------
def _shard_path(out_dir: Path, k: int) -> Path:
    return out_dir / f"shard-{k:06d}.npz"


def _write_shard(path: Path, ids, sequences, vectors, pooling: str) -> None:
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    arrays = {"ids": np.array(ids, dtype=str), "lengths": lengths}
    if pooling == "per_residue":
        arrays["embeddings"] = (np.concatenate(vectors, axis=0) if vectors
                                else np.zeros((0, 0), np.float32))
        arrays["offsets"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    else:
        arrays["embeddings"] = vectors
    with atomic_target(path) as fh:  # a shard is either complete or absent
        np.savez(fh, **arrays)


def read_shard(path: Path, pooling: str, embed_dim: int | None = None,
               rerun: str = "the same command") -> tuple[list[str], object]:
    """(ids, embeddings) of one shard: an (n, D) array, or a list of (L_i, D) arrays for
    per-residue pooling. ValueError naming the file when it is damaged (unreadable, cut
    short, or arrays that do not fit together)."""
    try:
        # our own handle: numpy leaves its file open when a damaged zip fails to parse
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as d:
            ids = [str(i) for i in d["ids"]]
            emb = d["embeddings"]
            offsets = d["offsets"] if pooling == "per_residue" else None
    except FileNotFoundError:
        raise ValueError(f"embedding shard {path} is missing; run {rerun} again to embed its "
                         "records") from None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise ValueError(f"embedding shard {path} is damaged ({damage_reason(exc)}); run "
                         f"{rerun} again to embed its records anew") from None
    rows = int(offsets[-1]) if offsets is not None and offsets.size else len(ids)
    if emb.ndim != 2 or emb.shape[0] != rows or (embed_dim is not None and emb.size
                                                 and emb.shape[1] != embed_dim) \
            or (offsets is not None and offsets.shape != (len(ids) + 1,)):
        raise ValueError(f"embedding shard {path} is damaged (embeddings of shape {emb.shape} "
                         f"for {len(ids)} records); run {rerun} again to embed its records anew")
    if offsets is not None:
        return ids, [emb[offsets[i]:offsets[i + 1]] for i in range(len(ids))]
    return ids, emb


def _records(handle, fasta):
    from Bio import SeqIO

    for number, rec in enumerate(SeqIO.parse(handle, "fasta"), start=1):
        seq = str(rec.seq).strip().rstrip("*") if rec.seq is not None else ""
        if not seq:
            raise ValueError(
                f"FASTA record {number} ({rec.id!r}) in {fasta} has no residues; remove the empty "
                "record and run again (finished shards are kept)"
            )
        yield rec.id, seq


def embed_fasta(model: ProteinModel, fasta, out_dir, layer: int = -1, pooling: str = "mean",
                shard_size: int = 1024, batch_size: int = DEFAULT_BATCH_SIZE,
                progress=None) -> Path:
    """Stream a FASTA file through :func:`embed` into ``out_dir/shard-NNNNNN.npz`` files.

    Shard k holds records k*shard_size ... (k+1)*shard_size - 1: arrays ``ids``, ``lengths``,
    ``embeddings`` (and ``offsets`` for per-residue pooling, rows offsets[i]:offsets[i+1]).
    Running again resumes: finished shards (written atomically) are checked against the FASTA
    ids and skipped. ``manifest.json`` records the model, layer and pooling, and a run with
    different ones refuses to mix into the folder. A trailing '*' (stop) is dropped.
    """
    _check_pooling(pooling)
    layer = model.check_layer(layer)
    shard_size = check_int("shard_size", shard_size, 1, " (records per shard)")
    fasta = Path(fasta).expanduser()
    if not fasta.is_file():
        raise ValueError(f"fasta={fasta} is not a file")
    out_dir = Path(out_dir).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / "manifest.json"
    settings = {"format": _FORMAT, "model": model.name, "layer": layer, "pooling": pooling,
                "shard_size": int(shard_size), "embed_dim": model.embed_dim}
    if manifest_path.exists():
        old = read_json(manifest_path, "manifest of an embedding folder")
        differ = {k: (old.get(k), v) for k, v in settings.items() if old.get(k) != v}
        if differ:
            raise ValueError(
                f"{out_dir} holds embeddings made with other settings {differ} (old, new); "
                "use a new out_dir or the same settings to resume"
            )
    manifest_path.write_text(json.dumps({**settings, "fasta": str(fasta.resolve()),
                                         "complete": False}, indent=1))
    ids: list[str] = []
    seqs: list[str] = []
    shard = 0
    total = 0

    def flush() -> None:
        path = _shard_path(out_dir, shard)
        if path.exists():
            try:
                done_ids = read_shard(path, pooling)[0]
            except ValueError as exc:  # damaged (e.g. cut short): embedded again
                warnings.warn(f"{exc}; embedding its {len(ids)} records again", stacklevel=2)
                path.unlink()
            else:
                if done_ids != ids:
                    raise ValueError(
                        f"{path} holds other records than shard {shard} of {fasta} (was the "
                        "FASTA changed?); use a new out_dir")
                return
        _check_sequences(model, seqs, names=ids)
        vectors = embed(model, seqs, layer, pooling, batch_size, progress)
        _write_shard(path, ids, seqs, vectors, pooling)

    with open(fasta) as handle:
        for rid, seq in _records(handle, fasta):
            ids.append(rid)
            seqs.append(seq)
            total += 1
            if len(ids) == shard_size:
                flush()
                shard += 1
                ids, seqs = [], []
    if ids:
        flush()
        shard += 1
    manifest_path.write_text(json.dumps({**settings, "fasta": str(fasta.resolve()),
                                         "complete": True, "records": total, "shards": shard},
                                        indent=1))
    return out_dir


def read_embeddings(out_dir):
    """(ids, embeddings) from an :func:`embed_fasta` folder: an (N, D) array, or a list of
    (L_i, D) arrays for per-residue pooling."""
    out_dir = Path(out_dir).expanduser()
    manifest_path = out_dir / "manifest.json"
    if not manifest_path.exists():
        raise ValueError(f"{out_dir} has no manifest.json; it was not written by embed_fasta")
    manifest = read_json(manifest_path, "manifest of an embedding folder")
    if not manifest.get("complete"):
        raise ValueError(f"{out_dir} is incomplete; run embed_fasta again to finish it")
    ids: list[str] = []
    parts: list = []
    for k in range(manifest["shards"]):
        shard_ids, emb = read_shard(_shard_path(out_dir, k), manifest["pooling"],
                                    manifest["embed_dim"], rerun="embed_fasta")
        ids.extend(shard_ids)
        if manifest["pooling"] == "per_residue":
            parts.extend(emb)
        else:
            parts.append(emb)
    if manifest["pooling"] == "per_residue":
        return ids, parts
    D = manifest["embed_dim"]
    return ids, (np.concatenate(parts, axis=0) if parts else np.zeros((0, D), np.float32))
