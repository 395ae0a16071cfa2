"""The web page in a real browser (O5): Debian's Chromium driven by Playwright against a real
cluster with TLS as ``framecast up`` runs it (masters behind HAProxy, a slave, Redis,
PostgreSQL), at its plain-HTTP address for this machine and over HTTPS, with CLI users on
the other side. Chromium's fake camera stands in for a webcam. Screenshots are kept under
``test-artifacts/`` (or ``$FRAMECAST_ARTIFACTS``)."""

from __future__ import annotations

import base64
import hashlib
import json

import cv2
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from client.sources import read_code
from tests.browser import ARTIFACTS, attribute_number, chromium, open_page
from tests.conftest import Running, broadcasting, json_lines, register_users, start_cluster, stop_cluster, wait_until


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
    with chromium(f"--ignore-certificate-errors-spki-list={trusted_key(cluster)}") as browser:
        yield browser


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def code_on_screen(page, user: str) -> int:
    """The frame number the CLI test pattern draws into its images, read off ``user``'s tile."""
    png = page.locator(f".tile[data-user={user}] canvas").screenshot()
    return read_code(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR))


def screen_seq(page, user: str) -> int:
    """The number of the frame on ``user``'s tile."""
    return attribute_number(page, f".tile[data-user={user}] canvas", "data-seq")


@pytest.mark.parametrize("secure", [False, True], ids=["http-on-this-machine", "https"])
def test_a_page_watches_a_cli_broadcast(cluster, browser, tmp_path, secure):
    caster_name, viewer_name = ("heidi", "ivan") if secure else ("alice", "bob")
    caster_cli, _ = register_users(cluster, tmp_path, caster_name, viewer_name)
    caster = broadcasting(caster_cli, caster_name, "--size", "640x480", "--fps", "15")
    page = open_page(browser, cluster.secure_web if secure else cluster.web, viewer_name)
    try:
        watch = f"#live li[data-user={caster_name}] button[data-action=watch]"
        page.wait_for_selector(watch, timeout=15000)
        page.click(watch)
        page.select_option(f".tile[data-user={caster_name}] select.zoom", "100")  # the images' own size, to read
        wait_until(lambda: screen_seq(page, caster_name) > 0, timeout=15)
        first_seq = screen_seq(page, caster_name)
        first = code_on_screen(page, caster_name)
        wait_until(lambda: screen_seq(page, caster_name) > first_seq + 5, timeout=30)
        second = code_on_screen(page, caster_name)
        assert 0 < first < second  # the image itself moves on
        status = page.inner_text(f".tile[data-user={caster_name}] .status")
        assert "fps" in status and "last --" not in status
        assert page.url.startswith("https://" if secure else "http://127.0.0.1:")
        tile = f".tile[data-user={caster_name}]"
        page.select_option(f"{tile} select.zoom", "200")
        assert page.eval_on_selector(f"{tile} canvas", "c => c.getBoundingClientRect().width") == 1280
        screenshot(page, f"watching-a-cli-broadcast-{'https' if secure else 'http'}")
    finally:
        page.close()
        caster.stop()


def test_a_page_broadcasts_its_webcam_to_a_cli_viewer(cluster, browser, tmp_path):
    (dave,) = register_users(cluster, tmp_path, "dave")
    page = open_page(browser, cluster.web, "carol", register=True)
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
    page = open_page(browser, cluster.web, "erin")
    try:
        page.click("#settings-open")  # erin decides who watches her, in the page
        page.fill("#pref-access", "ask")
        page.click("#prefs-save")
        page.wait_for_selector("#notice:has-text('settings saved')")
        assert json.loads(erin_cli.ok("prefs", "--json"))["access"] == "ask"

        frank.ok("msg", "erin", "hello from the CLI")
        page.click("#notifications li[data-kind=message][data-user=frank] button[data-action=open]", timeout=15000)
        page.wait_for_selector("#chat-lines li:has-text('hello from the CLI')", timeout=15000)
        page.fill("#chat-text", "hello from the page")
        page.click("#chat-form button")
        wait_until(lambda: "hello from the page" in frank.ok("messages", "--with", "erin"), 15)

        page.click("#camera-start")
        page.wait_for_selector("#broadcast-state:has-text('broadcasting on')", timeout=15000)
        viewer = Running(frank, "view", "erin", "--json", "--duration", "60")
        accept = "#notifications li[data-kind=ask][data-user=frank] button[data-action=accept]"
        page.wait_for_selector(accept, timeout=15000)
        page.click(accept)
        wait_until(lambda: any(line.get("fps", 0) > 0 for line in json_lines("\n".join(viewer.out))), 20)
        page.wait_for_selector("#viewers li[data-viewer=frank] button[data-action=throw]", timeout=15000)
        screenshot(page, "chat-accept-and-viewers")
        page.click("#viewers li[data-viewer=frank] button[data-action=throw]")
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
