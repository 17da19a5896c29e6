"""Render a fit's HTML report in headless Chromium and save full-page screenshots.

    python docs/report_screenshot.py                      # the demo fit (galaxies, K = 3)
    python docs/report_screenshot.py --fit fit.nc --out shots

Writes ``report.html`` and ``report-<width>.png`` (one per ``--width``, full page height)
into ``--out``, so that what a reader sees can be reviewed: the banner against the rank
figure, tables at a narrow window, images that load. Needs a Chromium (``apt-get install
chromium``); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path


def screenshot(html: Path, png: Path, width: int, height: int) -> None:
    """Save a ``width`` x ``height`` screenshot of ``html`` to ``png`` with Chromium."""
    browser = next(
        (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None
    )
    if browser is None:
        raise SystemExit("no Chromium found: install it (apt-get install chromium)")
    subprocess.run(
        [browser, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
         f"--window-size={width},{height}", f"--screenshot={png}", html.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Write the report and its screenshots; return the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit", type=Path, help="a saved fit (default: fit the demo's data)")
    ap.add_argument("--out", type=Path, default=Path("report-screenshots"))
    ap.add_argument("--width", type=int, nargs="+", default=[1280, 700])
    ap.add_argument("--height", type=int, default=9000, help="page height to capture")
    a = ap.parse_args(argv)
    import bayesmix as bm

    if a.fit is None:
        velocity = bm.datasets.load("galaxies").to_numpy() / 1000.0
        res = bm.fit(velocity, 3, random_seed=1, progressbar=False)
    else:
        res = bm.load(a.fit)
    a.out.mkdir(parents=True, exist_ok=True)
    html = res.report(a.out / "report.html")
    for width in a.width:
        png = a.out / f"report-{width}.png"
        screenshot(html, png, width, a.height)
        print(f"{png} written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
