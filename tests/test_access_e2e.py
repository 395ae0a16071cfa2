"""Who may watch whom, end to end through the command line (U1, U3-U8, C9): access rules,
view requests answered in the running broadcast or from another terminal, invitations,
the viewer list, throwing a viewer out, settings, friends and presence, status."""

import json
import time

import pytest

from cli.services import free_port
from client.masters import Masters
from client.session import join_slave
from client.errors import ServerError
from common.messages.streaming import ViewStart
from tests.conftest import (
    Running,
    broadcasting,
    json_lines,
    register_users,
    start_cluster,
    stop_cluster,
    wait_until,
)

REQUEST_TTL = 6


@pytest.fixture(scope="module")
def access_cluster(tmp_path_factory):
    cluster = start_cluster(
        tmp_path_factory.mktemp("access"), master_args=["--request-ttl", str(REQUEST_TTL), "--throw-ban", "60"]
    )
    yield cluster
    stop_cluster(cluster)


@pytest.fixture
def people(access_cluster, tmp_path):
    return lambda *names: register_users(access_cluster, tmp_path, *names)


def one_error(result):
    """The one error line a failed command ended with (after any event lines)."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and lines and lines[-1].startswith("framecast: error: "), result.stderr
    assert sum(line.startswith("framecast: error: ") for line in lines) == 1 and "Traceback" not in result.stderr
    return lines[-1].removeprefix("framecast: error: ")


def test_status_needs_a_login_and_users_see_only_what_they_may_watch(people, access_cluster, tmp_path):
    from tests.conftest import Cli

    nobody = Cli(access_cluster.server, tmp_path / "nobody")
    assert one_error(nobody.run("status")) == "not logged in: run 'framecast login USER' first"
    alice, bob = people("stalice", "stbob")
    alice.ok("prefs", "access", "list")
    caster = broadcasting(alice, "stalice")
    try:
        users_view = json.loads(bob.ok("status", "--json"))
        assert users_view["broadcasts"] == [], "bob may not watch stalice"
        assert all("addr" not in s and "container" not in s for s in users_view["slaves"])
        alice.ok("allow", "stbob")
        (row,) = json.loads(bob.ok("status", "--json"))["broadcasts"]
        assert row == {"user": "stalice", "viewers": 0, "access": "admit"}
        everything = json.loads(bob.operator("status", "--json").stdout)
        assert all("addr" in s for s in everything["slaves"]) and everything["broadcasts"][0]["slave"]
    finally:
        caster.stop()


def test_the_list_rule_refuses_until_allow(people):
    alice, bob = people("lsalice", "lsbob")
    alice.ok("prefs", "access", "list")
    caster = broadcasting(alice, "lsalice")
    try:
        refused = one_error(bob.run("view", "lsalice", "--frames", "3"))
        assert refused == "lsalice only lets the people on their list watch"
        assert "lsbob is on your allow list" in alice.ok("allow", "lsbob")
        assert json_lines(bob.ok("view", "lsalice", "--json", "--frames", "3"))[-1]["frames"] == 3
        alice.ok("disallow", "lsbob")
        assert bob.run("view", "lsalice", "--frames", "3").returncode == 1
    finally:
        caster.stop()


def test_ask_accept_in_the_broadcast_and_from_another_terminal(people):
    alice, bob, carol = people("akalice", "akbob", "akcarol")
    alice.ok("prefs", "access", "ask")
    caster = broadcasting(alice, "akalice")
    try:
        viewer = Running(bob, "view", "akalice", "--json", "--frames", "5")
        viewer.saw("waiting for akalice to accept")
        caster.saw("akbob asks to watch — accept? [y/N/always/ignore]")
        caster.type("y")
        caster.saw("akbob may watch you")
        assert viewer.process.wait(20) == 0 and viewer.json()[-1]["frames"] == 5
        other = Running(carol, "view", "akalice", "--json", "--frames", "5")
        caster.saw("akcarol asks to watch")
        assert "akcarol may watch you" in alice.ok("accept", "akcarol")
        assert other.process.wait(20) == 0 and other.json()[-1]["frames"] == 5
    finally:
        caster.stop()


def test_ask_deny_ignore_and_expiry(people):
    alice, bob, carol, dan = people("dnalice", "dnbob", "dncarol", "dndan")
    alice.ok("prefs", "access", "ask")
    caster = broadcasting(alice, "dnalice")
    try:
        denied = Running(bob, "view", "dnalice")
        caster.saw("dnbob asks to watch")
        alice.ok("deny", "dnbob")
        assert denied.process.wait(15) == 1 and denied.lines[-1] == "framecast: error: dnalice declined"

        ignored = Running(carol, "view", "dnalice")
        caster.saw("dncarol asks to watch")
        caster.type("ignore")
        caster.saw("dncarol may not watch you")
        assert ignored.process.wait(15) == 1
        again = carol.run("view", "dnalice", timeout=REQUEST_TTL + 20)
        assert one_error(again) == "dnalice did not answer your request in time"
        assert sum("dncarol asks" in line for line in caster.lines) == 1, "ignored requests never reach the broadcaster"

        expired = dan.run("view", "dnalice", timeout=REQUEST_TTL + 20)
        assert one_error(expired) == "dnalice did not answer your request in time"
        assert "has expired" in one_error(alice.run("accept", "dndan"))
    finally:
        caster.stop()


def test_invite_then_view_without_a_prompt_and_decline(people):
    alice, bob, carol = people("ivalice", "ivbob", "ivcarol")
    alice.ok("prefs", "access", "ask")
    bobs_session = Running(bob, "friends", "--watch")  # a running session sees the invitation
    caster = broadcasting(alice, "ivalice")
    try:
        assert "invited ivbob" in alice.ok("invite", "ivbob")
        assert json_lines(bob.ok("view", "ivalice", "--json", "--frames", "3"))[-1]["frames"] == 3
        assert not any("asks to watch" in line for line in caster.lines)
        alice.ok("invite", "ivcarol")
        assert "declined ivalice's invitation" in carol.ok("decline", "ivalice")
        caster.saw("ivcarol declined your invitation")
        assert one_error(carol.run("decline", "ivalice")) == "ivalice has not invited you"
    finally:
        caster.stop()
        bobs_session.stop()


def test_viewer_list_and_throwing_one_of_two_viewers(people, access_cluster):
    alice, bob, carol = people("twalice", "twbob", "twcarol")
    caster = broadcasting(alice, "twalice", "--fps", "10")
    try:
        bob_view = Running(bob, "view", "twalice", "--json", "--duration", "40")
        carol_view = Running(carol, "view", "twalice", "--json", "--duration", "40")
        caster.saw("(2 watching)")

        def listed():
            rows = json.loads(alice.ok("viewers", "--json"))
            return len(rows) == 2 and all(r["fps"] > 0 and r["kbps"] > 0 for r in rows) and rows

        rows = wait_until(listed, 15)
        assert {r["user"] for r in rows} == {"twbob", "twcarol"} and all(r["since"] <= time.time() for r in rows)
        redirect = Masters(access_cluster.server).view_redirect(
            json.loads((bob.home / "credentials.json").read_text())["token"], "twalice"
        )
        assert "removed twbob" in alice.ok("throw", "twbob")
        assert bob_view.process.wait(10) == 1 and bob_view.lines[-1] == "framecast: error: twalice removed you"
        caster.saw("twbob left (1 watching)")
        before = wait_until(carol_view.json, 10)[-1]["frames"]
        wait_until(lambda: carol_view.json()[-1]["frames"] >= before + 20, 10)
        assert carol_view.json()[-1]["reconnects"] == 0, "the other viewer went on undisturbed"
        with pytest.raises(ServerError, match="twalice removed you"):  # a ticket from before the throw
            join_slave(redirect, ViewStart)
        back = Running(bob, "view", "twalice")
        back.saw("waiting for twalice to accept"), "a thrown viewer needs a new request"
        back.stop()
        assert one_error(alice.run("throw", "twbob")) == "twbob is not watching you"
    finally:
        caster.stop()
        carol_view.stop()


def test_settings_are_pushed_at_the_start_and_while_broadcasting(people, tmp_path):
    alice, bob = people("psalice", "psbob")
    assert alice.ok("prefs", "size", "320x240") == "size 320x240\n"
    alice.ok("prefs", "quality", "3")
    caster = broadcasting(alice, "psalice")
    try:
        bob.ok("view", "psalice", "--frames", "2", "--out", str(tmp_path / "first"))
        import cv2

        first = cv2.imread(str(sorted((tmp_path / "first").iterdir())[-1]))
        assert first.shape[:2] == (240, 320), "the stored size was used"
        alice.ok("prefs", "size", "512x384")
        caster.saw("settings now")
        bob.ok("view", "psalice", "--frames", "2", "--out", str(tmp_path / "second"))
        second = cv2.imread(str(sorted((tmp_path / "second").iterdir())[-1]))
        assert second.shape[:2] == (384, 512), "a change during the broadcast applies at once"
        prefs = json.loads(alice.ok("prefs", "--json"))
        assert prefs == {"quality": 3, "size": "512x384", "rate": "faster", "access": "everyone", "turbo": "ask"}
    finally:
        caster.stop()


def test_friends_presence_and_the_live_list(people):
    alice, bob, carol, dave = people("fralice", "frbob", "frcarol", "frdave")
    assert "frbob is your friend; you see their presence once they add you too" in alice.ok("friends", "add", "frbob")
    alice.ok("friends", "add", "frcarol")
    bob.ok("friends", "add", "fralice")
    carol.ok("friends", "add", "fralice")
    dave.ok("friends", "add", "frbob")  # one-sided: a stranger's add shows nothing of bob
    stranger = Running(dave, "friends", "--watch", "--json")
    wait_until(lambda: stranger.out, 10)
    presence = {r["user"]: r["presence"] for r in json.loads(alice.ok("friends", "--json"))}
    assert presence == {"frbob": "offline", "frcarol": "offline"}
    watcher = Running(alice, "friends", "--watch", "--json")
    wait_until(lambda: watcher.out, 10)  # the list is shown; changes from now on are pushed
    bob_session = Running(bob, "friends", "--watch")
    wait_until(lambda: any('"user": "frbob", "state": "online"' in line for line in watcher.out), 10)
    carol_cast = broadcasting(carol, "frcarol")
    bob_cast = broadcasting(bob, "frbob")
    try:
        wait_until(lambda: any('"user": "frcarol", "state": "broadcasting"' in line for line in watcher.out), 10)
        presence = {r["user"]: r["presence"] for r in json.loads(alice.ok("friends", "--json"))}
        assert presence == {"frbob": "broadcasting", "frcarol": "broadcasting"}
        assert json.loads(dave.ok("friends", "--json")) == [{"user": "frbob", "presence": "pending"}]
        assert not any('"state"' in line for line in stranger.out), "no presence pushed to a one-sided friend"
        live = json.loads(alice.ok("live", "--json"))
        assert [row["user"] for row in live][:2] == ["frbob", "frcarol"] and all(row["friend"] for row in live[:2])
        carol.ok("friends", "remove", "fralice")  # the friends rule is carol's own list
        carol.ok("prefs", "access", "friends")
        assert "frcarol" not in [row["user"] for row in json.loads(alice.ok("live", "--json"))]
        assert "frcarol is no longer your friend" in alice.ok("friends", "remove", "frcarol")
    finally:
        carol_cast.stop()
        bob_cast.stop()
        bob_session.stop()
        watcher.stop()
        stranger.stop()


def test_the_default_broadcast_plays_at_full_rate_to_one_viewer(people):
    alice, bob = people("dfalice", "dfbob")
    caster = broadcasting(alice, "dfalice")
    try:
        lines = json_lines(bob.ok("view", "dfalice", "--json", "--duration", "6"))
    finally:
        caster.stop()
    steady = lines[2:-1]
    assert steady and sum(line["fps"] for line in steady) / len(steady) > 13.5, [line["fps"] for line in lines]
    assert lines[-1]["cap_kbps"] >= 10000


@pytest.mark.parametrize(
    "args, message",
    [
        (("allow", "nobody-at-all"), "no such user 'nobody-at-all'"),
        (("allow", "bialice"), "you cannot put yourself on your allow list"),
        (("friends", "add", "bialice"), "you cannot be your own friend"),
        (("throw", "bibob"), "bibob is not watching you"),
        (("invite", "nobody-at-all"), "no such user 'nobody-at-all'"),
        (("accept", "bibob"), "bibob has not asked to watch you"),
        (("prefs", "colour", "red"), "unknown setting 'colour'; the settings are quality, size, rate, access, turbo"),
        (("prefs", "quality", "11"), "quality is a whole number from 0 to 10"),
        (("prefs", "access", "room:nohash"), "access is everyone, friends, list, ask or room:#ROOM"),
        (("viewers",), "you are not broadcasting"),
    ],
)
def test_bad_input_is_one_clear_line(bad_input_user, args, message):
    assert one_error(bad_input_user.run(*args)) == message


@pytest.fixture(scope="module")
def bad_input_user(access_cluster, tmp_path_factory):
    alice, _ = register_users(access_cluster, tmp_path_factory.mktemp("bad"), "bialice", "bibob")
    return alice


def test_an_unreachable_port_is_one_line(tmp_path):
    from tests.conftest import Cli

    result = Cli(f"127.0.0.1:{free_port()}", tmp_path).run("register", "x1", "--password", "password-x1")
    assert "cannot connect" in one_error(result)
