"""Screenshots of the demo's report for docs/case-study.md (needs /usr/bin/chromium and playwright; not
part of the tests).

    fourlens demo --out fourlens-demo --overwrite
    .venv/bin/python docs/img/demo/make_screenshots.py fourlens-demo/report.html

Writes docs/img/demo/summary.png (the ranked findings) and one PNG per lens section (lens-<name>.png).
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent


def main(report: Path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900}, device_scale_factor=1)
        page.goto(report.resolve().as_uri())
        page.wait_for_timeout(3000)  # plotly draws after load
        page.locator("#summary").screenshot(path=str(OUT / "summary.png"))
        for section in page.locator("section.lens").all():
            name = section.get_attribute("id")
            section.screenshot(path=str(OUT / f"{name}.png"))
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "fourlens-demo/report.html"))
