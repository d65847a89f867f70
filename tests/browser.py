"""A real browser for the access tests: Debian's Chromium (apt-get install chromium; .ci/run
installs it), driven by playwright from PyPI, which downloads no browser of its own."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import unavailable

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium (playwright Browser); each test opens its own contexts (cookie jars)."""
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        unavailable("no Chromium at /usr/bin/chromium: apt-get install -y chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page, base_url: str, username: str, password: str) -> None:
    """The FAB login form, as a person fills it in; ends on the Airflow UI."""
    page.goto(f"{base_url}/auth/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state("networkidle")
    if "/auth/login" in page.url:
        raise AssertionError(f"{username} could not sign in: still on {page.url}: {page.inner_text('body')[:300]}")
