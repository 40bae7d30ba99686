"""The README's first Python snippet runs as pasted, in the folder where `plmscope demo` ran."""
import re
from pathlib import Path

import numpy as np

from plmscope.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def test_first_api_snippet_pastes(tmp_path, monkeypatch, capsys):
    text = README.read_text()
    intro = text.index("After `plmscope demo`")
    snippet = re.search(r"```python\n(.*?)```", text[intro:], re.S).group(1)
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--no-progress"]) == 0  # default --out: plmscope-demo
    capsys.readouterr()
    scope = {}
    exec(compile(snippet, "README.md", "exec"), scope)
    printed = capsys.readouterr().out
    assert np.allclose(scope["f_back"], scope["f"])
    assert scope["yhat"].shape == (5,)
    assert "sites" in printed and "(0,)" not in printed  # 1-based sites


def test_torch_pin_says_how_to_get_the_cpu_wheel():
    text = README.read_text()
    assert "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in text
    assert "it is the CPU build" not in text  # PyPI's torch==2.13.0 on Linux is the CUDA one
