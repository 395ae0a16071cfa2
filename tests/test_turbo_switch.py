"""A viewer's turbo switch (``client.turbo_switch``), in process: when images go peer to
peer, when they come back through the slave, what the slave and the link are told, and the
one line a user sees when the broadcaster cannot be reached."""

from __future__ import annotations

from hypothesis import given, strategies as st

from client.actions import Say, Send
from client.turbo_switch import P2P, SERVER, TO_LINK, TO_SLAVE, Reach, TurboSwitch
from common.messages.streaming import ViewerPause, ViewerResume
from common.messages.turbo import TurboPath


def told(actions: list, where: str) -> list:
    return [action.message for action in actions if isinstance(action, Send) and action.to == where]


def lines(actions: list) -> list[str]:
    return [action.line for action in actions if isinstance(action, Say)]


def on_the_link() -> TurboSwitch:
    switch = TurboSwitch("alice")
    assert switch.offered(link_up=False, reaching=False) == [Reach()]
    assert switch.reached() == []  # wanted and not paused: a new link already sends
    return switch


def test_an_offer_starts_reaching_the_broadcaster_once():
    switch = TurboSwitch("alice")
    assert switch.offered(link_up=False, reaching=False) == [Reach()]
    assert switch.offered(link_up=False, reaching=True) == []
    assert switch.path == SERVER  # no image over the link yet


def test_the_first_frame_over_the_link_switches_and_tells_the_slave():
    switch = on_the_link()
    actions = switch.peer_frame()
    assert told(actions, TO_SLAVE) == [TurboPath(True)]
    assert lines(actions) == ["images from alice peer to peer (turbo)"]
    assert switch.path == P2P and switch.peer_frame() == []  # told once


def test_frames_over_the_link_before_an_offer_switch_nothing():
    switch = TurboSwitch("alice")
    assert switch.peer_frame() == [] and switch.path == SERVER


def test_turbo_end_brings_the_images_back_and_pauses_the_link():
    switch = on_the_link()
    switch.peer_frame()
    actions = switch.through_the_slave(link_up=True)
    assert lines(actions) == ["images from alice through the slave again"]
    assert told(actions, TO_LINK) == [ViewerPause()] and switch.path == SERVER
    assert told(switch.offered(link_up=True, reaching=False), TO_LINK) == [ViewerResume()]  # instant


def test_a_user_pause_pauses_the_link_and_a_new_link_hears_it():
    switch = on_the_link()
    assert told(switch.set_paused(True, link_up=True), TO_LINK) == [ViewerPause()]
    assert switch.set_paused(True, link_up=True) == []
    assert told(switch.reached(), TO_LINK) == [ViewerPause()]  # a fresh link starts unpaused
    assert told(switch.set_paused(False, link_up=True), TO_LINK) == [ViewerResume()]


def test_an_unreachable_broadcaster_is_told_once_not_at_every_offer():
    switch = TurboSwitch("alice")
    switch.offered(link_up=False, reaching=False)
    first = switch.fell_back("connection refused")
    assert told(first, TO_SLAVE) == [TurboPath(False, "connection refused")]
    assert lines(first) == ["turbo: connection refused; images through the slave (turbo is tried again later)"]
    switch.offered(link_up=False, reaching=False)
    again = switch.fell_back("connection refused")
    assert lines(again) == [] and told(again, TO_SLAVE) == [TurboPath(False, "connection refused")]


def test_a_lost_peer_link_is_always_told_and_the_reason_fits_the_message():
    switch = on_the_link()
    switch.peer_frame()
    why = "peer link lost (" + "x" * 200 + ")"
    actions = switch.fell_back(why)
    assert lines(actions) == [f"turbo: {why}; images through the slave"]
    assert told(actions, TO_SLAVE) == [TurboPath(False, why[:128])]
    assert switch.path == SERVER and not switch.wanted


STEPS = st.sampled_from(["offer", "end", "reached", "frame", "pause", "resume", "lost"])


@given(st.lists(STEPS, max_size=60))
def test_the_link_is_told_to_pause_exactly_when_it_should_not_carry_images(steps):
    """Whatever happens, the last pause or resume the link was told matches what it should
    do, and the path is P2P only while the images are wanted over it."""
    switch, link_up, link_told = TurboSwitch("alice"), False, None
    for step in steps:
        if step == "offer":
            actions = switch.offered(link_up, reaching=False)
        elif step == "end":
            actions = switch.through_the_slave(link_up)
        elif step == "reached":
            link_up, link_told = True, ViewerResume()  # a new link sends until told otherwise
            actions = switch.reached()
        elif step == "frame":
            actions = switch.peer_frame() if link_up else []
        elif step in ("pause", "resume"):
            actions = switch.set_paused(step == "pause", link_up)
        else:
            link_up, link_told = False, None
            actions = switch.fell_back("lost")
        for message in told(actions, TO_LINK):
            assert link_up
            link_told = message
        if link_up:
            should_pause = switch.user_paused or not switch.wanted
            assert type(link_told) is (ViewerPause if should_pause else ViewerResume)
        assert switch.path == SERVER or switch.wanted
