"""Serve a map on 127.0.0.1 and drive headless Chromium over it (tests/browser/browser.js).

Also a small command to refresh the README screenshot from any generated map:
    .venv/bin/python tests/browser/map_driver.py data/maps/2026-03-02.html --hour 17:00 \
        --out docs/map-screenshot.png
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Debian's chromium package; CHROMIUM_PATH points elsewhere (e.g. /usr/bin/google-chrome on CI images).
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
BROWSER_JS = HERE / "browser.js"


def missing_requirements() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not installed (apt-get install -y chromium)"
    if shutil.which("node") is None:
        return "node not installed"
    if not (HERE / "node_modules" / "playwright-core").is_dir():
        return "tests/browser/node_modules missing (cd tests/browser && npm ci)"
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """An http.server on 127.0.0.1 (free port) serving `directory`; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def open_map(html_path: Path, hour: str, screenshot: Path, timeout: float = 90.0) -> dict:
    """Open the map, pick `hour` in the layer control, click a marker; returns browser.js's JSON."""
    with serve_directory(html_path.parent) as base:
        proc = subprocess.run(
            ["node", str(BROWSER_JS), f"{base}/{html_path.name}", hour, str(screenshot)],
            capture_output=True, text=True, timeout=timeout, cwd=HERE,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"browser.js failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description="Screenshot a risk map in headless Chromium.")
    parser.add_argument("html", type=Path, help="a map written by `accidents map`")
    parser.add_argument("--hour", default="17:00", help="hour layer to show, e.g. 17:00")
    parser.add_argument("--out", type=Path, default=Path("docs/map-screenshot.png"))
    args = parser.parse_args()
    reason = missing_requirements()
    if reason:
        raise SystemExit(f"error: {reason}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = open_map(args.html.resolve(), args.hour, args.out.resolve())
    print(f"{len(result['visibleMarkers'])} markers shown at {args.hour}; screenshot {args.out}")


if __name__ == "__main__":
    main()
