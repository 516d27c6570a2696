"""report.html in a real browser: Debian's Chromium, headless, opens a smoke reproduction's
page and the checked-in quick and standard ones, and every image must decode and every
comparison table must be there. A screenshot of each is kept in build/test-artifacts/."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("one_thread_per_module")

REPOSITORY = Path(__file__).resolve().parent.parent
ARTIFACTS = REPOSITORY / "build" / "test-artifacts"
CHECKED_IN = sorted((REPOSITORY / "docs" / "reproduce").glob("*/report.html"))

# Appended to a copy of the page: after loading, it records on <body> how many images there
# are and how many decoded, for --dump-dom to show.
_PROBE = """
<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  document.body.dataset.images = images.length;
  document.body.dataset.decoded = images.filter((i) => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.comparisonRows = document.querySelectorAll("table.comparisons tr").length;
});
</script>
"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Chromium is missing: install Debian's chromium package (scripts/test does)")
    return found


def _headless(*args: str) -> subprocess.CompletedProcess[str]:
    command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu"]
    command += ["--disable-dev-shm-usage", "--hide-scrollbars", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _check_in_browser(page: Path, tmp_path: Path, screenshot: str) -> None:
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8") + _PROBE, encoding="utf-8")
    result = _headless("--virtual-time-budget=10000", "--dump-dom", probed.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", result.stdout)
    assert body is not None, result.stdout[:2000]
    found = dict(re.findall(r'data-([a-z-]+)="(\d+)"', body.group(1)))
    embedded = page.read_text(encoding="utf-8").count("<img ")
    assert int(found["images"]) == embedded > 0
    assert int(found["decoded"]) == embedded  # every image loaded and decoded
    tables = re.findall(r'<table class="comparisons".*?</table>', page.read_text(), re.S)
    assert tables and int(found["comparison-rows"]) == sum(t.count("<tr>") for t in tables)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / screenshot
    shot.unlink(missing_ok=True)
    result = _headless("--window-size=1280,3000", f"--screenshot={shot}", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000


def test_a_smoke_reproduction_renders_in_chromium(smoke_reproduction: Path, tmp_path: Path) -> None:
    _check_in_browser(smoke_reproduction / "report.html", tmp_path, "smoke-report.png")


def test_the_quick_and_standard_reports_are_checked_in() -> None:
    assert {p.parent.name for p in CHECKED_IN} >= {"quick", "standard"}


@pytest.mark.parametrize("page", CHECKED_IN, ids=[p.parent.name for p in CHECKED_IN])
def test_the_checked_in_reports_render_in_chromium(page: Path, tmp_path: Path) -> None:
    _check_in_browser(page, tmp_path, f"{page.parent.name}.png")
