"""Headless Chromium for the browser tests: Debian's own binary (never `playwright install`),
started with the flags a sandbox-less, offline CI machine needs."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from tests._require import require

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def require_chromium() -> None:
    require(os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} not installed (apt-get install chromium)")


@contextlib.contextmanager
def chromium_page(width: int, height: int) -> Iterator[Any]:
    """A page of a fresh headless Chromium, closed (with the browser) on the way out."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()
