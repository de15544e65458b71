"""Render a report page (``index.html`` of ``mfkdbench paper``) in headless Chromium and save a screenshot.

    python docs/screenshot_report.py paper/index.html paper/index.png --height 6000

Needs a ``chromium`` (or ``chromium-browser``, ``google-chrome``) binary on PATH; look at the PNG to check that
tables render as tables, figures load and captions sit under them.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=6000)
    args = parser.parse_args()
    browser = next((b for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        sys.exit(f"error: no headless browser found (tried {', '.join(BROWSERS)})")
    if not args.page.is_file():
        sys.exit(f"error: no page at {args.page}")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={args.png.resolve()}", f"--window-size={args.width},{args.height}",
                    args.page.resolve().as_uri()], check=True, capture_output=True, timeout=120)
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
