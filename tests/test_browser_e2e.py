"""The web page in a real browser (O5): Debian's Chromium driven by Playwright against a real
cluster with TLS as ``framecast up`` runs it (masters behind HAProxy, a slave, Redis,
PostgreSQL), at its plain-HTTP address for this machine and over HTTPS, with CLI users on
the other side. Chromium's fake camera stands in for a webcam. Screenshots are kept under
``test-artifacts/`` (or ``$FRAMECAST_ARTIFACTS``)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from client.sources import read_code
from tests.conftest import Running, broadcasting, json_lines, register_users, start_cluster, stop_cluster, wait_until

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


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(tmp_path_factory.mktemp("browser"), slaves=1, tls=True)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def trusted_key(cluster) -> str:
    """Chromium's pin of the cluster's certificate (its public key's SHA-256), so the page
    can use https:// and wss:// as a browser that trusts the local CA would."""
    cert = x509.load_pem_x509_certificate(cluster.tls_files.cert.read_bytes())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture(scope="module")
def browser(cluster):
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        pin = f"--ignore-certificate-errors-spki-list={trusted_key(cluster)}"
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*BROWSER_ARGS, pin])
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, cluster, user: str, register: bool = False, secure: bool = False):
    """A page of ``cluster``'s web front, logged in as ``user`` (registered by the CLI, or
    in the page with ``register``), at http://127.0.0.1 or, ``secure``, https://localhost."""
    page = browser.new_page()
    page.on("console", lambda message: print(f"[{user} console] {message.text}"))
    page.goto(cluster.secure_web if secure else cluster.web)
    page.fill("#user", user)
    page.fill("#password", f"password-{user}")
    page.click("#register" if register else "#login")
    page.wait_for_selector(f"#whoami:has-text('{user}')", timeout=15000)
    return page


def screenshot(page, name: str) -> bytes:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    return page.locator("#screen").screenshot()


def code_on_screen(page) -> int:
    """The frame number the CLI test pattern draws into its images, read off the canvas."""
    png = page.locator("#screen").screenshot()
    return read_code(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR))


def screen_seq(page) -> int:
    """The number of the frame on the page's screen. (Playwright's ``wait_for_function``
    evaluates its text with ``eval``, which the page's Content-Security-Policy forbids.)"""
    return int(page.get_attribute("#screen", "data-seq") or 0)


@pytest.mark.parametrize("secure", [False, True], ids=["http-on-this-machine", "https"])
def test_a_page_watches_a_cli_broadcast(cluster, browser, tmp_path, secure):
    caster_name, viewer_name = ("heidi", "ivan") if secure else ("alice", "bob")
    caster_cli, _ = register_users(cluster, tmp_path, caster_name, viewer_name)
    caster = broadcasting(caster_cli, caster_name, "--size", "640x480", "--fps", "15")
    page = open_page(browser, cluster, viewer_name, secure=secure)
    try:
        watch = f"#live li:has-text('{caster_name}') button[data-action=watch]"
        page.wait_for_selector(watch, timeout=15000)
        page.click(watch)
        wait_until(lambda: screen_seq(page) > 0, timeout=15)
        first_seq = screen_seq(page)
        first = code_on_screen(page)
        wait_until(lambda: screen_seq(page) > first_seq + 5, timeout=30)
        second = code_on_screen(page)
        assert 0 < first < second  # the image itself moves on
        assert "fps" in page.inner_text("#status-line") and "last image --" not in page.inner_text("#status-line")
        assert page.url.startswith("https://" if secure else "http://127.0.0.1:")
        page.select_option("#zoom", "200")
        assert page.eval_on_selector("#screen", "c => c.getBoundingClientRect().width") == 1280
        screenshot(page, f"watching-a-cli-broadcast-{'https' if secure else 'http'}")
    finally:
        page.close()
        caster.stop()


def test_a_page_broadcasts_its_webcam_to_a_cli_viewer(cluster, browser, tmp_path):
    (dave,) = register_users(cluster, tmp_path, "dave")
    page = open_page(browser, cluster, "carol", register=True)
    try:
        page.click("#camera-start")
        page.wait_for_selector("#broadcast-state:has-text('broadcasting on')", timeout=15000)
        out = tmp_path / "frames"
        viewer = dave.run("view", "carol", "--frames", "10", "--out", str(out), "--json", timeout=60)
        assert viewer.returncode == 0, viewer.stderr
        images = sorted(out.iterdir())
        assert len(images) >= 10
        image = cv2.imread(str(images[-1]))
        assert image.shape == (480, 640, 3)  # the size of carol's settings (the default)
        screenshot(page, "broadcasting-from-the-webcam")
    finally:
        page.click("#camera-stop")
        page.close()


def test_chat_and_a_view_request_accepted_in_the_page(cluster, browser, tmp_path):
    erin_cli, frank = register_users(cluster, tmp_path, "erin", "frank")
    page = open_page(browser, cluster, "erin")
    try:
        page.fill("#pref-access", "ask")  # erin decides who watches her, in the page
        page.click("#prefs-save")
        page.wait_for_selector("#notice:has-text('settings saved')")
        assert json.loads(erin_cli.ok("prefs", "--json"))["access"] == "ask"

        frank.ok("msg", "erin", "hello from the CLI")
        page.wait_for_selector("#chat li:has-text('hello from the CLI')", timeout=15000)
        page.fill("#chat-to", "frank")
        page.fill("#chat-text", "hello from the page")
        page.click("#chat-form button")
        wait_until(lambda: "hello from the page" in frank.ok("messages", "--with", "erin"), 15)

        page.click("#camera-start")
        page.wait_for_selector("#broadcast-state:has-text('broadcasting on')", timeout=15000)
        viewer = Running(frank, "view", "erin", "--json", "--duration", "60")
        page.wait_for_selector("#requests li:has-text('frank') button[data-action=accept]", timeout=15000)
        page.click("#requests li:has-text('frank') button[data-action=accept]")
        wait_until(lambda: any(line.get("fps", 0) > 0 for line in json_lines("\n".join(viewer.out))), 20)
        page.wait_for_selector("#viewers li:has-text('frank') button[data-action=throw]", timeout=15000)
        screenshot(page, "chat-accept-and-viewers")
        page.click("#viewers li:has-text('frank') button[data-action=throw]")
        assert viewer.process.wait(20) != 0  # thrown out: the CLI viewer says so and stops
    finally:
        page.click("#camera-stop")
        page.close()


def test_bad_input_over_the_websocket_gets_one_clear_refusal(cluster, browser):
    page = browser.new_page()
    page.goto(cluster.web)
    outcome = page.evaluate(
        """async () => {
            const attempt = (send) => new Promise((resolve) => {
                const socket = new WebSocket(`ws://${location.host}/ws`, "framecast");
                socket.binaryType = "arraybuffer";
                const got = [];
                socket.onopen = () => send(socket);
                socket.onmessage = (e) => got.push(new TextDecoder().decode(new Uint8Array(e.data).subarray(10)));
                socket.onclose = (e) => resolve({ code: e.code, got });
            });
            return {
                text: await attempt((socket) => socket.send("not binary")),
                garbage: await attempt((socket) => socket.send(new Uint8Array(16).fill(7))),
            };
        }"""
    )
    page.close()
    assert outcome["text"]["code"] == 1003
    assert json.loads(outcome["garbage"]["got"][0])["code"] == "bad_magic"
