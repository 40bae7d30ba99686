from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"

# The reproduction suite checks the published files and runs only when named
# (python -m pytest tests/reproduction, with PLMSCOPE_DATA set): `pytest tests` leaves it out.
collect_ignore = ["reproduction"]


def data_file(name: str) -> Path:
    """A small file kept with the tests (tests/data): the paper's wild types."""
    return DATA / name


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster for one test module. Its workers are started by the raylet,
    which inherits this environment: they must import the plmscope this process imported
    (the installed one, or the source tree under PYTHONPATH) and the tests' own modules
    (test oracles are pickled by reference)."""
    import ray
    import plmscope

    saved = os.environ.get("PYTHONPATH")
    package_root = str(Path(plmscope.__file__).resolve().parents[1])
    tests_dir = str(Path(__file__).resolve().parent)
    os.environ["PYTHONPATH"] = os.pathsep.join([tests_dir, package_root] + ([saved] if saved else []))
    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, logging_level="ERROR")
    try:
        yield ray
    finally:
        ray.shutdown()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def pytest_terminal_summary(terminalreporter):
    """One line per skip reason with its count, so a failure is not buried under dozens of
    SKIPPED lines (pyproject's addopts use -rfE, not -ra)."""
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    counts: dict[str, int] = {}
    for report in skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        counts[reason] = counts.get(reason, 0) + 1
    terminalreporter.section(f"{len(skipped)} skipped, by reason")
    for reason, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        terminalreporter.line(f"{count:4d}  {reason}")
