"""Damaged files in a resumable store (answer batches, embedding shards, alignment chunks)
are named and computed again, never a traceback that names no file."""
import warnings

import numpy as np
import pytest

from plmscope.fourier.qsft import QueryStore, ask_batches
from plmscope.models import embed_fasta, load, read_embeddings, save_random_model


class Counting:
    def __init__(self):
        self.asked = []

    def __call__(self, x):
        self.asked.append(x.shape[0])
        return x.astype(float) @ np.arange(1, x.shape[1] + 1)


def damage(path, how):
    if how == "truncated":
        path.write_bytes(path.read_bytes()[:60])
    elif how == "garbage":
        path.write_bytes(b"\x00not an npy file at all" * 5)
    elif how == "nan":
        np.save(path, np.full(10, np.nan))
    elif how == "short":
        np.save(path, np.zeros(3))
    elif how == "empty":
        path.write_bytes(b"")


def test_damaged_answer_batches_are_named_and_asked_again(tmp_path):
    x = np.random.default_rng(0).integers(0, 4, size=(50, 5)).astype(np.uint8)
    first = Counting()
    want = ask_batches(first, x, 10, tmp_path / "store", {"purpose": "test"}, progress=False)
    files = sorted((tmp_path / "store" / "answers").glob("*.npy"))
    assert len(files) == 5
    kinds = ["truncated", "garbage", "nan", "short", "empty"]
    for path, how in zip(files, kinds):
        damage(path, how)
    again = Counting()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = ask_batches(again, x, 10, tmp_path / "store", {"purpose": "test"}, progress=False)
    np.testing.assert_array_equal(got, want)
    assert again.asked == [10] * 5
    messages = [str(w.message) for w in caught]
    for path in files:
        assert any(str(path) in m and "damaged" in m and "asked again" in m for m in messages)
    assert not any("allow_pickle" in m for m in messages)
    # the batches were saved anew: a third run asks nothing
    third = Counting()
    np.testing.assert_array_equal(
        ask_batches(third, x, 10, tmp_path / "store", {"purpose": "test"}, progress=False), want)
    assert third.asked == []


def test_corrupt_store_config_names_the_file(tmp_path):
    QueryStore(tmp_path / "s", {"a": 1})
    (tmp_path / "s" / "config.json").write_text("{ not json")
    with pytest.raises(ValueError, match=r"s/config.json is not valid JSON"):
        QueryStore(tmp_path / "s", {"a": 1})


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return load(save_random_model("esm", tmp_path_factory.mktemp("m") / "tiny.pt",
                                  backend="fair-esm"))


@pytest.mark.parametrize("pooling", ["mean", "per_residue"])
@pytest.mark.parametrize("how", ["truncated", "garbage", "empty"])
def test_damaged_embedding_shard_is_named_and_embedded_again(tiny_model, tmp_path, pooling, how):
    fasta = tmp_path / "p.fasta"
    fasta.write_text("".join(f">p{i}\nMKTAYIAKQR{'AG' * i}\n" for i in range(5)))
    out = embed_fasta(tiny_model, fasta, tmp_path / "emb", pooling=pooling, shard_size=2)
    ids, want = read_embeddings(out)
    shard = out / "shard-000001.npz"
    damage(shard, how)
    with pytest.raises(ValueError, match=r"shard-000001.npz is damaged.*embed its records"):
        read_embeddings(out)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        embed_fasta(tiny_model, fasta, out, pooling=pooling, shard_size=2)
    assert any(str(shard) in str(w.message) and "embedding its 2 records again" in str(w.message)
               for w in caught)
    got_ids, got = read_embeddings(out)
    assert got_ids == ids
    if pooling == "mean":
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    else:
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_damaged_manifest_names_the_file(tiny_model, tmp_path):
    fasta = tmp_path / "p.fasta"
    fasta.write_text(">a\nMKTAYIAK\n")
    out = embed_fasta(tiny_model, fasta, tmp_path / "emb")
    (out / "manifest.json").write_text('{"format": ')
    with pytest.raises(ValueError, match=r"emb/manifest.json .*not valid JSON"):
        read_embeddings(out)
    with pytest.raises(ValueError, match=r"emb/manifest.json .*not valid JSON"):
        embed_fasta(tiny_model, fasta, out)
