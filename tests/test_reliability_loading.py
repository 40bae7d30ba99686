"""Checkpoint files are untrusted whatever their name: nothing but tensors and fair-esm's
argparse.Namespace config is ever unpickled (torch.load weights_only=True)."""
import shutil

import pytest
import torch
from plmscope.models import load, save_random_model


class _Payload:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_random_model("esm", tmp_path_factory.mktemp("ckpt") / "esm2_tiny.pt",
                             backend="fair-esm")


@pytest.mark.parametrize("name", ["esm2_t6_8M_UR50D.pt", "esm2_t33_650M_UR50D.pt", "mine.pt"])
def test_checkpoint_named_like_published_runs_no_code(tiny, tmp_path, name):
    data = torch.load(tiny, weights_only=False)
    marker = tmp_path / "pwned"
    data["cfg"]["extra"] = _Payload(marker)
    torch.save(data, tmp_path / name)
    with pytest.raises(ValueError, match=rf"{name}.*weights_only=True.*arbitrary code"):
        load(tmp_path / name)
    assert not marker.exists()


def test_contact_regression_beside_published_name_runs_no_code(tiny, tmp_path):
    shutil.copy(tiny, tmp_path / "esm2_t6_8M_UR50D.pt")
    marker = tmp_path / "pwned"
    torch.save({"weight": _Payload(marker)}, tmp_path / "esm2_t6_8M_UR50D-contact-regression.pt")
    with pytest.raises(ValueError, match="contact-regression.pt.*weights_only=True"):
        load(tmp_path / "esm2_t6_8M_UR50D.pt")
    assert not marker.exists()


def test_plain_checkpoint_with_published_name_still_loads(tiny, tmp_path):
    shutil.copy(tiny, tmp_path / "esm2_t6_8M_UR50D.pt")
    m = load(tmp_path / "esm2_t6_8M_UR50D.pt")
    assert m.name.startswith("esm2_t6_8M_UR50D@") and m.num_layers == 2
