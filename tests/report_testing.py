"""Helpers for tests of `report.html`: its embedded images, one section's HTML, a headless Chromium render.

A module of its own (not conftest.py), for the core's report tests and each plugin's.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`make test` installs it)")


def images(page: str) -> list[str]:
    """The `src` of every `<img>` of a page."""
    return re.findall(r"<img\b[^>]*\bsrc=\"([^\"]*)\"", page)


def decode_all(page: str) -> int:
    """Decode every image of the page (each must be an embedded PNG or JPEG, larger than 10 px); their count."""
    from PIL import Image

    sources = images(page)
    for src in sources:
        assert src.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")), src[:60]
        image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1], validate=True)))
        image.load()
        assert image.size[0] > 10 and image.size[1] > 10
    return len(sources)


def section(page: str, sid: str) -> str:
    """The HTML inside `<section id="sid">` (the first section whose id starts with `sid`)."""
    match = re.search(r'<section id="' + re.escape(sid) + r'[^"]*">(.*?)</section>', page, re.S)
    assert match, f"no section {sid!r} in the page"
    return match.group(1)


def chromium_command(tmp_path: Path) -> list[str]:
    return [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]


def chromium_dom(html: Path, tmp_path: Path) -> str:
    """The DOM headless Chromium builds from a page file; fails on a non-zero exit or a console message."""
    dom = subprocess.run([*chromium_command(tmp_path), "--dump-dom", Path(html).resolve().as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "CONSOLE" not in dom.stderr, dom.stderr[-2000:]  # no console errors or messages
    return dom.stdout


def chromium_checked(html: Path, tmp_path: Path, sections: tuple[str, ...]) -> str:
    """Render a report page in headless Chromium: no console message, the sections there, every image
    decoded, and a screenshot that is not blank. Returns the DOM."""
    from PIL import Image

    dom = chromium_dom(html, tmp_path)
    for sid in sections:
        assert f'id="{sid}' in dom, sid
    assert decode_all(dom) == len(images(Path(html).read_text()))
    shot = tmp_path / "report.png"
    out = subprocess.run([*chromium_command(tmp_path), f"--screenshot={shot}", "--window-size=1280,3000",
                          Path(html).resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and shot.is_file(), out.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1280, 3000)
        assert len(set(image.convert("L").resize((64, 192)).getdata())) > 8  # drawn, not a blank page
    return dom
