"""Debian's Chromium driven by Playwright, for the tests of the web page: launching it with
a fake webcam, opening a logged-in page, and screenshots at a desktop's and a phone's size
kept as test artifacts under ``test-artifacts/`` (or ``$FRAMECAST_ARTIFACTS``)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("FRAMECAST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SIZES = {"desktop": DESKTOP, "phone": PHONE}


@contextmanager
def chromium(*extra_args: str):
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*BROWSER_ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, address: str, user: str, register: bool = False, viewport: dict = DESKTOP):
    """A page of the web front at ``address``, logged in as ``user`` (registered already, or
    in the page with ``register``), its console printed with the user's name."""
    page = browser.new_page(viewport=viewport)
    page.on("console", lambda message: print(f"[{user} console] {message.text}"))
    page.goto(address)
    assert not page.is_visible("#app") and not page.is_visible("#nav")  # nothing but the login before it
    page.fill("#user", user)
    page.fill("#password", f"password-{user}")
    page.click("#register" if register else "#login")
    page.wait_for_selector(f"#whoami:has-text('{user}')", timeout=15000)
    return page


def screenshots(page, name: str, sizes=SIZES) -> None:
    """``name``-desktop.png and ``name``-phone.png of the whole page; at each size, nothing
    may stick out sideways (a phone would have to scroll the page across)."""
    ARTIFACTS.mkdir(exist_ok=True)
    before = page.viewport_size
    for size_name, size in sizes.items():
        page.set_viewport_size(size)
        page.evaluate("() => window.scrollTo(0, 0)")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= size["width"], f"the page is {width} px wide at {size_name} size"
        page.screenshot(path=str(ARTIFACTS / f"{name}-{size_name}.png"), full_page=True)
    page.set_viewport_size(before)


def attribute_number(page, selector: str, name: str) -> int:
    """A number the page keeps in an attribute (frames drawn, sequence numbers). (Playwright's
    ``wait_for_function`` uses ``eval``, which the page's Content-Security-Policy forbids.)"""
    return int(page.get_attribute(selector, name) or 0)
