#!/usr/bin/env python3
"""Screenshots of the patient pages at phone (390x844) and desktop (1280x900) widths.

Builds a database from the real checked-in data (data/curated, data/feeds) into a temporary
folder, serves it with Datasette exactly as `make serve` does, and drives Debian's Chromium
(/usr/bin/chromium, never a downloaded browser) with Playwright. Every request that is not to
127.0.0.1 is blocked, so map tiles are not fetched: the maps show their markers on a grey ground.

    .venv/bin/python docs/screenshots.py [--out docs/screenshots]
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
PAGES = {
    "search": "/?zip=84101&miles=50&insurer=aetna",
    "search-widened": "/?zip=78701&insurer=aetna",
    "clinic": "/clinic/site/great-salt-lake-wellness-bountiful-bountiful?insurer=aetna",
    "state": "/state/TX",
    "checklist": "/checklist?state=TX&insurer=aetna&condition=treatment_resistant_depression",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(db_path, port):
    """Start Datasette as `make serve` does; returns the process once it answers."""
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/datasette"), "serve", "-i", str(db_path), "--metadata", "metadata.yml",
         "--plugins-dir", "plugins", "--template-dir", "templates", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError("Datasette stopped: " + process.stderr.read().decode())
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/-/versions.json", timeout=1)
            return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("Datasette did not start within 30 seconds")


def local_only(route):
    if route.request.url.startswith("http://127.0.0.1:"):
        route.continue_()
    else:
        route.abort()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=ROOT / "docs" / "screenshots", type=Path)
    args = parser.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium (make browser)")
    from playwright.sync_api import sync_playwright

    from build_db import Build

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "ketamine.db"
        Build(db_path, quiet=True).run()
        port = free_port()
        server = serve(db_path, port)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for size_name, viewport in SIZES.items():
                    context = browser.new_context(viewport=viewport, device_scale_factor=1)
                    page = context.new_page()
                    page.route("**/*", local_only)
                    for name, path in PAGES.items():
                        page.goto(f"http://127.0.0.1:{port}{path}")
                        page.wait_for_load_state("networkidle")
                        if page.locator("#kad-map").count():
                            page.wait_for_selector("#kad-map[data-ready]", timeout=10_000)
                        target = args.out / f"{name}-{size_name}.png"
                        page.screenshot(path=str(target), full_page=True)
                        print(target.relative_to(ROOT))
                    context.close()
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
