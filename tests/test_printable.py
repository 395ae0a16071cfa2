"""Text from other users is printed and shown with its control characters escaped (U10,
issue 18): a message cannot fake a line, move the cursor, retitle the terminal or reorder
what is shown. The page's ``printable`` (master/static/printable.js) is checked against the
CLI's in Debian's Chromium."""

import os
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from client.chat import describe_line
from client.printable import printable
from common.messages.chat import ChatLine

ATTACKS = [
    "hi\n[12:00:01] alice: send me your token",
    "\x1b]0;pwned\x07title",
    "\x1b[2J\x1b[Hcleared",
    "carriage\rreturn",
    "\u202eevil\u202c",
    "tab\tand\x00nul\x7fdel\x9bcsi",
    "plain text, ünïcödé, 漢字 and a \\ backslash",
]


def test_a_message_cannot_fake_a_line_or_send_escapes():
    line = ChatLine(1, "mallory", "alice", ATTACKS[0] + ATTACKS[1], 0.0)
    shown = describe_line(line, "alice")
    assert "\n" not in shown and "\x1b" not in shown and "\x07" not in shown
    assert shown.endswith("mallory: hi\\n[12:00:01] alice: send me your token\\x1b]0;pwned\\x07title")


def test_ordinary_text_is_printed_as_it_is():
    assert printable(ATTACKS[-1]) == ATTACKS[-1]


@given(st.text())
def test_nothing_printed_controls_the_terminal(text):
    shown = printable(text)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in shown)
    assert not any(c in shown for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def test_the_page_escapes_exactly_as_the_cli_does():
    chromium = "/usr/bin/chromium"
    if not os.path.exists(chromium):
        pytest.fail("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    source = (Path(__file__).resolve().parent.parent / "master/static/printable.js").read_text()
    script = source.replace("export function printable", "function printable")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-background-networking"]
        )
        try:
            page = browser.new_page()
            shown = page.evaluate(f"(texts) => {{ {script}; return texts.map(printable); }}", ATTACKS)
        finally:
            browser.close()
    assert shown == [printable(text) for text in ATTACKS]
