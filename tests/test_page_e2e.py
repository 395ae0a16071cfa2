"""The web page as its users meet it (issue 21), in Debian's Chromium against one real
cluster (HAProxy, two masters, a slave, Redis, PostgreSQL) with CLI users on the other side:
the grid of live broadcasts, two tiles watched at once at their own rates, a request to
watch answered from a notification and the viewer thrown out, a chat with a CLI user, and
the connection to the masters lost and regained. Each test keeps screenshots at a desktop's
and a phone's size (``tests/browser.py``)."""

from __future__ import annotations

import json

import pytest

from tests.browser import PHONE, attribute_number, chromium, open_page, screenshots
from tests.conftest import Running, broadcasting, json_lines, register_users, start_cluster, stop_cluster, wait_until


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(tmp_path_factory.mktemp("page"), slaves=1)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


@pytest.fixture(scope="module")
def browser(cluster):
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def casters(cluster, tmp_path_factory):
    """alice (carol's friend) and bob broadcast from the CLI; dave asks first; carol watches
    in the page."""
    home = tmp_path_factory.mktemp("casters")
    alice, bob, carol, dave = register_users(cluster, home, "alice", "bob", "carol", "dave")
    alice.ok("friends", "add", "carol")
    carol.ok("friends", "add", "alice")
    dave.ok("prefs", "access", "ask")
    running = {
        name: broadcasting(cli, name, "--size", "320x240", "--fps", "15")
        for name, cli in (("alice", alice), ("bob", bob), ("dave", dave))
    }
    yield {"bob": bob, "dave": dave, "running": running}
    for caster in running.values():  # (bob's, perhaps a second one)
        caster.stop()


def thumbnail_loaded(page, user: str) -> bool:
    image = page.locator(f"#live li[data-user={user}] img")
    return image.evaluate("img => img.complete && img.naturalWidth > 0")


def test_the_grid_shows_the_live_broadcasts_friends_first(cluster, browser, casters):
    page = open_page(browser, cluster.web, "carol")
    try:
        page.wait_for_selector("#live li[data-user=dave]", timeout=15000)
        page.wait_for_selector("#live li[data-user=alice].has-image", timeout=15000)
        page.wait_for_selector("#live li[data-user=bob].has-image", timeout=15000)
        assert page.eval_on_selector_all("#live li", "cards => cards.map(c => c.dataset.user)")[0] == "alice"
        assert page.is_visible("#live li[data-user=alice] .friend-mark")
        assert not page.is_visible("#live li[data-user=bob] .friend-mark")
        assert page.is_visible("#live li[data-user=dave] .ask-mark")
        assert not thumbnail_loaded(page, "dave")  # a thumbnail would ask dave
        assert "0 watching" in page.inner_text("#live li[data-user=bob] .viewers")
        screenshots(page, "page-grid")
        # the keyboard reaches a card: Tab from the top of the page, Enter opens a tile
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.closest('#live li')?.dataset.user") == "bob":
                break
        focused = "() => document.activeElement.closest('#live li')?.dataset.user"
        redraws = attribute_number(page, "#live", "data-redraws")
        wait_until(lambda: attribute_number(page, "#live", "data-redraws") > redraws, 15)
        assert page.evaluate(focused) == "bob"  # the grid's refresh kept the focus where it was
        page.keyboard.press("Enter")
        page.wait_for_selector(".tile[data-user=bob]")
    finally:
        page.close()


def tile_frames(page, user: str) -> int:
    return attribute_number(page, f".tile[data-user={user}] canvas", "data-frames")


def tile_status(page, user: str) -> str:
    return page.inner_text(f".tile[data-user={user}] .status")


def test_two_tiles_play_at_their_own_rates_and_a_stopped_one_comes_back(cluster, browser, casters):
    page = open_page(browser, cluster.web, "carol")
    try:
        page.click("#live li[data-user=alice] button[data-action=watch]", timeout=15000)
        page.click("#live li[data-user=bob] button[data-action=watch]")
        page.select_option(".tile[data-user=bob] select.link", "dsl")  # bob's tile at a DSL link's rate
        wait_until(lambda: tile_frames(page, "alice") > 0 and tile_frames(page, "bob") > 0, 20)
        # the user's budget split between the two streams, and bob's within the DSL link's cap
        wait_until(lambda: "cap 5000 kbps" in tile_status(page, "alice"), 15)
        wait_until(lambda: "cap 80 kbps" in tile_status(page, "bob"), 15)
        alice_from, bob_from = tile_frames(page, "alice"), tile_frames(page, "bob")
        wait_until(lambda: tile_frames(page, "alice") >= alice_from + 30, 20)
        assert tile_frames(page, "bob") - bob_from < 15  # the capped tile gets fewer images
        page.select_option(".tile[data-user=alice] select.zoom", "200")
        assert page.eval_on_selector(".tile[data-user=alice] canvas", "c => c.getBoundingClientRect().width") == 640
        page.select_option(".tile[data-user=alice] select.zoom", "fit")
        page.click(".tile[data-user=alice] button.full")
        wait_until(lambda: page.evaluate("() => document.fullscreenElement?.dataset.user") == "alice", 10)
        page.evaluate("() => document.exitFullscreen()")
        screenshots(page, "page-two-tiles")

        casters["running"]["bob"].stop()  # bob stops: his tile says so, until his new broadcast plays
        page.wait_for_selector("#problems li[data-key='watch:bob']:has-text('bob stopped broadcasting')", timeout=20000)
        page.wait_for_selector(".tile[data-user=bob][data-state=ended]")
        casters["running"]["bob"] = broadcasting(casters["bob"], "bob", "--size", "320x240", "--fps", "15")
        page.wait_for_selector(".tile[data-user=bob][data-state=playing]", timeout=30000)
        page.wait_for_selector("#problems li[data-key='watch:bob']", state="detached", timeout=5000)
        page.click(".tile[data-user=alice] button.close")
        assert page.locator(".tile").count() == 1
    finally:
        page.close()


def test_an_invitation_accepted_from_a_notification(cluster, browser, casters):
    casters["dave"].ok("invite", "carol")  # dave asks first, but invites carol, before her page opens
    page = open_page(browser, cluster.web, "carol")
    try:
        accept = "#notifications li[data-kind=invitation][data-user=dave] button[data-action=accept]"
        page.click(accept, timeout=15000)
        page.wait_for_selector(".tile[data-user=dave][data-state=playing]", timeout=20000)
        assert page.locator("#notifications li[data-kind=invitation]").count() == 0
    finally:
        page.close()


def test_a_request_to_watch_answered_from_a_notification_and_the_viewer_thrown_out(cluster, browser, tmp_path):
    erin_cli, frank = register_users(cluster, tmp_path, "erin", "frank")
    page = open_page(browser, cluster.web, "erin")
    viewer = None
    try:
        page.click("#settings-open")  # erin decides who watches her, in the settings dialog
        page.fill("#pref-access", "ask")
        page.click("#prefs-save")
        page.wait_for_selector("#settings-dialog", state="hidden")
        assert json.loads(erin_cli.ok("prefs", "--json"))["access"] == "ask"
        page.click("#camera-start")
        page.wait_for_selector("#broadcast-state:has-text('broadcasting on')", timeout=15000)

        viewer = Running(frank, "view", "erin", "--json", "--duration", "60")
        accept = "#notifications li[data-kind=ask][data-user=frank] button[data-action=accept]"
        page.wait_for_selector(accept, timeout=15000)
        page.locator("#chat-section").scroll_into_view_if_needed()  # the notification is there wherever erin is
        assert page.locator(accept).is_visible()
        screenshots(page, "page-request-notification")
        page.click(accept)
        page.wait_for_selector("#notifications li[data-kind=ask]", state="detached")
        wait_until(lambda: any(line.get("fps", 0) > 0 for line in json_lines("\n".join(viewer.out))), 20)

        row = "#viewers li[data-viewer=frank]"
        page.wait_for_selector(f"{row} .path:has-text('server')", timeout=15000)
        wait_until(lambda: "0.0 fps" not in page.inner_text(f"{row} .rate"), 15)
        screenshots(page, "page-broadcasting-with-a-viewer")
        page.click(f"{row} button[data-action=throw]")
        assert viewer.process.wait(20) != 0  # thrown out: the CLI viewer says so and stops
        page.wait_for_selector(row, state="detached", timeout=10000)
    finally:
        if viewer is not None:
            viewer.stop()
        page.click("#camera-stop")
        page.close()


def test_a_chat_with_a_cli_user(cluster, browser, tmp_path):
    (heidi,) = register_users(cluster, tmp_path, "heidi")
    page = open_page(browser, cluster.web, "grace", register=True, viewport=PHONE)
    try:
        heidi.ok("friends", "add", "grace")
        page.fill("#friend-name", "heidi")
        page.click("#friend-form button")
        page.wait_for_selector("#conversations li[data-peer=heidi] .dot.offline", timeout=15000)
        heidi_chat = Running(heidi, "chat", "grace")  # heidi comes online to chat
        page.wait_for_selector("#conversations li[data-peer=heidi] .dot.online", timeout=15000)

        heidi_chat.type("hello <b>grace</b>")
        notification = "#notifications li[data-kind=message][data-user=heidi]"
        page.wait_for_selector(f"{notification}:has-text('hello <b>grace</b>')", timeout=15000)
        assert page.inner_text("#conversations li[data-peer=heidi] .unread") == "1"
        page.click(f"{notification} button[data-action=open]")
        page.wait_for_selector("#chat-lines li:has-text('hello <b>grace</b>')")
        assert page.locator("#chat-lines b:has-text('grace')").count() == 0  # text, never markup
        assert not page.is_visible("#conversations li[data-peer=heidi] .unread")

        page.fill("#chat-text", "hello from the page")
        page.press("#chat-text", "Enter")
        page.wait_for_selector("#chat-lines li.mine:has-text('hello from the page')", timeout=15000)
        wait_until(lambda: any("hello from the page" in line for line in heidi_chat.out + heidi_chat.lines), 15)
        heidi_chat.stop()

        page.fill("#open-chat-name", "#porch")  # a room: made by grace, who owns it
        page.click("#open-chat button")
        page.wait_for_selector("#conversations li[data-peer='#porch']", timeout=15000)
        heidi.ok("join", "#porch")  # asks grace, who answers from a notification
        page.click("#notifications li[data-kind='room-ask:#porch'][data-user=heidi] button[data-action=accept]")
        wait_until(lambda: heidi.run("msg", "#porch", "hello porch").returncode == 0, 15)
        page.wait_for_selector("#chat-lines li:has-text('hello porch')", timeout=15000)
        screenshots(page, "page-chat")
    finally:
        page.close()


def test_the_connection_to_the_masters_lost_and_regained(cluster, browser):
    page = open_page(browser, cluster.web, "carol")
    try:
        page.wait_for_selector("#link-state[data-state=connected]")
        masters = [node for node in cluster.nodes if node.role == "master"]
        for node in masters:
            cluster.kill(node.name)
        page.wait_for_selector("#link-state[data-state=lost]", timeout=15000)
        page.wait_for_selector("#problems li[data-key=link]:has-text('lost the connection')")
        screenshots(page, "page-connection-lost")
        for node in masters:
            cluster.spawn(node)
        page.wait_for_selector("#link-state[data-state=connected]", timeout=40000)
        page.wait_for_selector("#problems li[data-key=link]", state="detached")
        page.fill("#open-chat-name", "alice")  # and it works again
        page.click("#open-chat button")
        page.wait_for_selector("#chat-title:has-text('alice')", timeout=15000)
    finally:
        page.close()
