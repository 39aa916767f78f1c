"""The first screen of the README tour's report, as a reader at 1400 x 900 sees it.

    python docs/screenshots.py [--workers 2]

Runs the tour's two seed groups (`lmcollapse run --seeds 0-9` under replace and under accumulate; they are
reused when they exist), writes their report, and saves the first screen in headless Chromium as
docs/img/report-first-screen.png. Needs chromium, chromedriver and selenium (the test extra)."""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
OUT = Path(__file__).parent / "img" / "report-first-screen.png"


def lmcollapse(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "lmcollapse.cli", *args], check=True, cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", default="2")
    parser.add_argument("--runs", default=str(ROOT / "runs"), help="where the tour's runs are (or go)")
    args = parser.parse_args()
    runs = Path(args.runs)
    lmcollapse("run", "--seeds", "0-9", "--out", str(runs / "replace-seeds"), "--workers", args.workers, "-q")
    lmcollapse("run", "--seeds", "0-9", "--set", "paradigm.name=accumulate", "--out", str(runs / "accumulate-seeds"),
               "--workers", args.workers, "-q")
    report = runs / "report.html"
    lmcollapse("report", str(runs / "replace-seeds"), str(runs / "accumulate-seeds"), "--out", str(report))

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.set_window_size(1400, 900)
        driver.get(report.resolve().as_uri())
        driver.save_screenshot(str(OUT))
    finally:
        driver.quit()
    print(f"{OUT.relative_to(ROOT)}: the first screen of {report}")


if __name__ == "__main__":
    main()
