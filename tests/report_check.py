"""Check a report as a person sees it: parse the HTML, decode every image it shows and require
real pictures (decodable PNGs, not blank, nothing cut off at their borders), then open the page
in headless Chromium and require that nothing runs off the window or is clipped."""
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
        try:
            image_edges_are_blank(data)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None
        assert (html_path.parent / name).read_bytes() == data, name
        shown.add(name)
    assert expect_images <= shown, (expect_images - shown)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="plmscope-browser-") as tmp:
        parser.layout = check_in_browser(html_path, Path(tmp))
    return parser


# -- the page in a real browser --------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (apt-get install chromium)
WINDOW = (1000, 900)  # narrower than the page's max width: wide content must still fit

_MEASURE = """<script>
window.addEventListener("load", () => {
  const vw = document.documentElement.clientWidth;
  const out = {viewport: vw, page_width: document.documentElement.scrollWidth,
               overflow: [], clipped: [], images: [], boxes: []};
  const name = el => el.tagName + " " + (el.textContent || "").trim().slice(0, 60);
  for (const el of document.body.querySelectorAll("*")) {
    if (el.id === "plmscope-layout") continue;
    const inner = el.parentElement && el.parentElement.closest(".wide");
    if (inner) continue;  // inside a scroll box: it scrolls there, the box must fit
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5)) out.overflow.push(name(el));
    const style = getComputedStyle(el);
    if (style.overflowX !== "auto" && style.overflowX !== "scroll" &&
        el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0 && el.tagName !== "HTML"
        && el.tagName !== "BODY") out.clipped.push(name(el));
  }
  for (const box of document.querySelectorAll(".wide"))
    out.boxes.push({right: box.getBoundingClientRect().right,
                    scrolls: box.scrollWidth > box.clientWidth});
  for (const img of document.images) {
    const r = img.getBoundingClientRect();
    out.images.push({file: img.dataset.file, natural: img.naturalWidth, shown: r.width,
                     right: r.right});
  }
  const pre = document.createElement("pre");
  pre.id = "plmscope-layout";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _chromium(*args: str) -> str:
    import subprocess

    assert CHROMIUM.exists(), (f"{CHROMIUM} is missing: the report tests look at the pages in "
                               "Debian's chromium (apt-get install chromium)")
    proc = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", "--disable-dev-shm-usage", "--virtual-time-budget=10000",
         f"--window-size={WINDOW[0]},{WINDOW[1]}", *args],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def browser_layout(html_path: Path, tmp_dir: Path) -> dict:
    """The page's layout as headless Chromium lays it out in a WINDOW-wide window: what runs
    past the window's right edge (outside the scroll boxes of wide tables), what is clipped,
    and every image's natural and shown width."""
    import json
    import re

    page = Path(tmp_dir) / f"measured-{Path(html_path).parent.name}.html"
    text = Path(html_path).read_text(encoding="utf-8")
    page.write_text(text.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    dom = _chromium("--dump-dom", page.resolve().as_uri())
    found = re.search(r'<pre id="plmscope-layout">(.*?)</pre>', dom, re.S)
    assert found, "the layout script did not run in Chromium"
    return json.loads(html_unescape(found.group(1)))


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)


def check_in_browser(html_path: Path, tmp_dir: Path) -> dict:
    """Open the report in Chromium and require: nothing runs off the window (wide tables
    scroll inside their own box), nothing is clipped, every image decoded and shown no wider
    than the window; and a screenshot that shows a page whose right edge is blank (no content
    cut off there)."""
    layout = browser_layout(html_path, tmp_dir)
    assert layout["page_width"] <= layout["viewport"], \
        f"the page is {layout['page_width']} px wide in a {layout['viewport']} px window"
    assert not layout["overflow"], f"runs off the window: {layout['overflow'][:5]}"
    assert not layout["clipped"], f"clipped: {layout['clipped'][:5]}"
    for box in layout["boxes"]:
        assert box["right"] <= layout["viewport"] + 0.5, box
    for img in layout["images"]:
        assert img["natural"] > 0, f"{img['file']} did not decode in the browser"
        assert img["right"] <= layout["viewport"] + 0.5, img
    shot = Path(tmp_dir) / f"shot-{Path(html_path).parent.name}.png"
    _chromium(f"--screenshot={shot}", Path(html_path).resolve().as_uri())
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float64)
    assert pixels.shape[1] == WINDOW[0], pixels.shape
    assert pixels.std() > 5, "the screenshot is blank"
    edge = pixels[:, -6:, :]
    assert edge.min() > 240, "something is drawn at the window's right edge (cut off?)"
    return layout


def image_edges_are_blank(data: bytes, margin: int = 2) -> None:
    """No dark pixel in the outer `margin` pixels of a figure: text or marks touching the
    border are cut off (a title wider than the figure, a label past its edge)."""
    img = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)
    dark = img.min(axis=2) < 160
    frame = np.concatenate([dark[:margin].ravel(), dark[-margin:].ravel(),
                            dark[:, :margin].ravel(), dark[:, -margin:].ravel()])
    assert not frame.any(), f"{frame.sum()} dark pixels on the figure's border: clipped"
