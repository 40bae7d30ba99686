"""A self-contained HTML page: the figures are embedded as PNG data URIs, so the one file
can be moved, mailed or opened offline, and the PNG files beside it stay for other uses."""
from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..folders import atomic_target

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
th { background: #f3f3f3; } td.key { text-align: left; font-weight: 600; }
td.value { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; box-sizing: border-box;
                                        border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; } .note { background: #fff6d8; padding: 0.6em 1em; }
.warning { background: #fde2e1; padding: 0.6em 1em; }
.wide { overflow-x: auto; max-width: 100%; } .wide td, .wide th { white-space: nowrap; }
td.value { overflow-wrap: anywhere; }
"""


@dataclass
class Section:
    """A heading with paragraphs, key/value facts, figures (PNG paths) and tables."""

    title: str
    paragraphs: list = field(default_factory=list)
    facts: list = field(default_factory=list)       # [(key, value)]
    figures: list = field(default_factory=list)     # [(png path, caption)]
    tables: list = field(default_factory=list)      # [(caption, DataFrame)]
    note: str | None = None
    warnings: list = field(default_factory=list)    # shown first, in red


def _figure(path: Path, caption: str, folder: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    name = Path(os.path.relpath(Path(path).resolve(), folder.resolve())).as_posix()
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}" '
            f'data-file="{html.escape(name)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def write_html(path: str | os.PathLike, title: str, sections: list[Section]) -> Path:
    """Write the page; every figure must exist (its bytes are embedded)."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    for sec in sections:
        parts.append(f"<h2>{html.escape(sec.title)}</h2>")
        parts += [f'<p class="warning">{html.escape(w)}</p>' for w in sec.warnings]
        if sec.note:
            parts.append(f'<p class="note">{html.escape(sec.note)}</p>')
        parts += [f"<p>{html.escape(p)}</p>" for p in sec.paragraphs]
        if sec.facts:
            parts.append("<table>")
            parts += [f'<tr><td class="key">{html.escape(str(k))}</td><td class="value">{html.escape(str(v))}</td></tr>'
                      for k, v in sec.facts]
            parts.append("</table>")
        parts += [_figure(Path(p), c, Path(path).parent) for p, c in sec.figures]
        for caption, frame in sec.tables:
            parts.append(f"<p><b>{html.escape(caption)}</b></p>")
            # a wide table scrolls inside its own box instead of running off the page
            parts.append('<div class="wide">' + frame.to_html(
                index=False, float_format=lambda v: f"{v:.4g}", border=0, escape=True)
                + "</div>")
    parts.append("</body></html>")
    path = Path(path)
    with atomic_target(path, "wb") as fh:
        fh.write("\n".join(parts).encode("utf-8"))
    return path
