"""Check a report as a person sees it, without a browser: parse the HTML, decode every image
it shows and require real pictures (decodable PNGs, not blank), and the tables it lists."""
from __future__ import annotations

import base64
import io
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from PIL import Image


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.tables, self.headings, self.text = [], 0, [], []
        self._in_heading = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        elif tag == "table":
            self.tables += 1
        elif tag in ("h1", "h2"):
            self._in_heading = True

    def handle_endtag(self, tag):
        if tag in ("h1", "h2"):
            self._in_heading = False

    def handle_data(self, data):
        if self._in_heading:
            self.headings.append(data.strip())
        self.text.append(data)


def image_is_picture(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG that shows something: several colours, not one flat fill."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    img = Image.open(io.BytesIO(data))
    img.load()
    pixels = np.asarray(img.convert("RGB"), dtype=np.float64)
    assert pixels.shape[0] >= 100 and pixels.shape[1] >= 100, pixels.shape
    assert pixels.std() > 5, "the image is (nearly) one flat colour"
    colours = np.unique(pixels.reshape(-1, 3)[::7], axis=0)
    assert len(colours) > 20, f"only {len(colours)} colours: nothing drawn"
    # something is drawn beyond the frame: non-white pixels cover a real share of the image
    ink = np.mean(pixels.min(axis=2) < 200)
    assert ink > 0.01, f"only {ink:.3%} of the pixels are drawn"
    return img.size


def check_report(html_path: Path, expect_images: set[str]) -> _Collector:
    """Parse report.html; every embedded image must be a real picture equal to its PNG file
    beside the page, and the expected ones must all be there."""
    html_path = Path(html_path)
    parser = _Collector()
    parser.feed(html_path.read_text(encoding="utf-8"))
    shown = set()
    for attrs in parser.images:
        src = attrs["src"]
        assert src.startswith("data:image/png;base64,"), src[:40]
        data = base64.b64decode(src.split(",", 1)[1])
        image_is_picture(data)
        name = attrs["data-file"]
        assert (html_path.parent / name).read_bytes() == data, name
        shown.add(name)
    assert expect_images <= shown, (expect_images - shown)
    return parser
