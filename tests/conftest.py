from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """A file of ../shared/data; a missing one fails the test loudly (never skips)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(
            f"shared data file {path} is missing: tests read ../shared/data beside the checkout "
            "(set PLMSCOPE_SHARED_DATA to its location if it lives elsewhere)"
        )
    return path


if os.environ.get("PLMSCOPE_SHARED_DATA"):
    SHARED = Path(os.environ["PLMSCOPE_SHARED_DATA"])
