"""The correlation study: pair table, correlation matrices, identity bins, hexbin plots."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from plmscope.alignment import (
    correlation_tables, hexbin_plots, identity_bins, pair_metrics, sample_pairs,
)
from reference_geometry import pair_similarity_ref


def synthetic_frame(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    identity = rng.uniform(0, 1, n)
    cosine = np.where(identity > 0.5, identity, 0.5) + rng.normal(0, 0.05, n)
    return pd.DataFrame({"cosine": cosine, "sqdist": 2 - 2 * cosine + rng.normal(0, 0.01, n),
                         "score": 500 * identity + rng.normal(0, 30, n), "identity": identity})


def test_correlation_tables_match_scipy():
    frame = synthetic_frame()
    tables = correlation_tables(frame)
    cols = ["cosine", "sqdist", "score", "identity"]
    for a in cols:
        for b in cols:
            assert tables["pearson"].loc[a, b] == pytest.approx(
                stats.pearsonr(frame[a], frame[b])[0], abs=1e-12)
            assert tables["spearman"].loc[a, b] == pytest.approx(
                stats.spearmanr(frame[a], frame[b])[0], abs=1e-12)
    const = frame.assign(cosine=1.0)
    assert np.isnan(correlation_tables(const)["pearson"].loc["cosine", "identity"])
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['identity'\]"):
        correlation_tables(frame.drop(columns="identity"))


def test_identity_bins_show_low_versus_high_identity():
    frame = synthetic_frame()
    bins = identity_bins(frame, edges=(0, 0.5, 1))
    assert list(bins["bin"]) == ["[0, 0.5)", "[0.5, 1]"]
    assert bins["n_pairs"].sum() == len(frame)
    low, high = bins.iloc[0], bins.iloc[1]
    # The planted relation: cosine follows identity only above 0.5.
    assert abs(low["cosine_spearman_identity"]) < 0.1
    assert high["cosine_spearman_identity"] > 0.9
    mask = frame["identity"] >= 0.5
    assert high["cosine_mean"] == pytest.approx(frame.loc[mask, "cosine"].mean())
    assert high["sqdist_pearson_identity"] == pytest.approx(
        stats.pearsonr(frame.loc[mask, "sqdist"], frame.loc[mask, "identity"])[0])
    default = identity_bins(frame)
    assert default["n_pairs"].sum() == len(frame)
    edge = identity_bins(pd.DataFrame({"cosine": [0.1, 0.2], "sqdist": [1.0, 2.0],
                                       "score": [1.0, 2.0], "identity": [0.0, 1.0]}))
    assert edge["n_pairs"].iloc[0] == 1 and edge["n_pairs"].iloc[-1] == 1  # 1.0 is kept
    assert np.isnan(edge["cosine_pearson_identity"]).all()
    with pytest.raises(ValueError, match="increasing"):
        identity_bins(frame, edges=(0.5, 0.2))


def test_hexbin_plots_write_pngs(tmp_path):
    paths = hexbin_plots(synthetic_frame(500), tmp_path / "plots", prefix="toy_")
    assert [p.name for p in paths] == ["toy_cosine_vs_identity.png",
                                       "toy_sqdist_vs_identity.png"]
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_pair_metrics_joins_embeddings_and_alignments():
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), int(rng.integers(20, 60))))
            for _ in range(12)]
    emb = rng.standard_normal((12, 16)).astype(np.float32)
    pairs = sample_pairs(12, 0.5, seed=2)
    frame = pair_metrics(emb, seqs, pairs)
    assert list(frame.columns) == ["i", "j", "cosine", "sqdist", "score", "identity"]
    cos, sq = pair_similarity_ref(emb, pairs)
    np.testing.assert_allclose(frame["cosine"], cos, atol=1e-12)
    np.testing.assert_allclose(frame["sqdist"], sq, rtol=1e-12)
    with pytest.raises(ValueError, match="got 11 embeddings for 12 sequences"):
        pair_metrics(emb[:11], seqs, pairs)
