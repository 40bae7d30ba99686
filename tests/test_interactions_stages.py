"""An interactions run as stages: one Design, saved in the run folder and checked on resume,
shared by the held-out draw and the recovery; every coefficient's stage in interactions.csv."""
import json

import numpy as np
import pandas as pd
import pytest

from plmscope.experiment import load_interactions, run_interactions
from plmscope.fourier import SurrogateOracle, qsft, random_real_transform


def _truth():
    return random_real_transform(4, 6, {1: (3, 1.0), 2: (2, 1.0)}, 0.5, np.random.default_rng(0))


KW = dict(num_subsample=3, num_repeat=1, test=200, batch_size=40, progress=False)


@pytest.mark.parametrize("decoder,allowed", [("peel", {"mean", "peel", "refit"}),
                                             ("auto", {"mean", "regress", "regress+peel"})])
def test_stage_column_design_file_and_digest(tmp_path, decoder, allowed):
    out = tmp_path / "run"
    res = run_interactions(SurrogateOracle(_truth(), 0.01), 4, 6, 2, out=out, decoder=decoder, **KW)
    table = pd.read_csv(out / "interactions.csv")
    assert "stage" in table.columns and set(table["stage"]) <= allowed
    assert list(table.loc[table["order"] == 0, "stage"]) == ["mean"]
    summary = json.loads((out / "summary.json").read_text())
    d = res.recovery.design
    assert summary["design"] == {"digest": d.digest, "num_queries": d.num_queries,
                                 "file": "design.npz"}
    assert sum(summary["stages"].values()) == len(res.transform) == len(table)
    assert "design.npz" in summary["files"]
    assert qsft.load_design(out / "design.npz").digest == d.digest
    # the held-out set avoids exactly the design's variants
    asked = {v.tobytes() for v in d.variants}
    assert not any(x.tobytes() in asked for x in res.test_x)
    # a finished folder read back keeps the stages, and a rewritten report the column
    (out / "report.html").unlink()
    again = load_interactions(out)
    np.testing.assert_array_equal(again.stages, res.stages.astype(str))
    assert list(pd.read_csv(out / "interactions.csv")["stage"]) == list(table["stage"])


def test_resume_refuses_a_design_the_arguments_do_not_build(tmp_path):
    out = tmp_path / "run"
    oracle = SurrogateOracle(_truth(), 0.01)

    class Stop(Exception):
        pass

    def stopping(x):
        raise Stop

    with pytest.raises(Stop):
        run_interactions(stopping, 4, 6, 2, out=out, oracle_info={"kind": "planted"}, **KW)
    assert (out / "design.npz").exists() and not (out / "summary.json").exists()
    other = qsft.make_design(qsft.plan(4, 6, 2, 3, "nso", 1), seed=1)
    other.save(out / "design.npz")  # as if another plmscope had drawn the run's design
    with pytest.raises(ValueError, match=r"design\.npz holds the design the run was started "
                                         r"with .* these arguments build another one"):
        run_interactions(oracle, 4, 6, 2, out=out, oracle_info={"kind": "planted"}, **KW)


def test_a_prebuilt_design_is_used_once_and_checked():
    oracle = SurrogateOracle(_truth(), 0.01)
    d = qsft.make_design(qsft.plan(4, 6, 2, 3, "nso", 1), seed=0)
    res = run_interactions(oracle, 4, 6, 2, design=d, report=False, **KW)
    assert res.recovery.design is d
    plain = run_interactions(oracle, 4, 6, 2, report=False, **KW)
    np.testing.assert_array_equal(plain.transform.values, res.transform.values)
    with pytest.raises(ValueError, match=r"seed=2 but the design given was built with seed=0"):
        run_interactions(oracle, 4, 6, 2, design=d, seed=2, **KW)
