"""The access policy (U3-U7) as a pure, clock-injected function, with property tests."""

import dataclasses

import pytest
from hypothesis import given, strategies as st

from common.prefs import AccessKind, access_rule, parse_value, with_defaults
from master.policy.access import Decision, Standing, decide, refusal

NOW = 10_000.0
past = st.none() | st.floats(0, NOW)  # facts recorded before now
times = st.none() | st.floats(0, 2 * NOW)
standings = st.builds(
    Standing,
    rule=st.sampled_from(list(AccessKind)),
    room=st.just("#cams"),
    self_view=st.booleans(),
    friend=st.booleans(),
    allowed=st.booleans(),
    ignored=st.booleans(),
    room_member=st.booleans(),
    invited_at=past,
    granted_at=past,
    thrown_at=past,
    thrown_until=times,
)


@given(standings)
def test_the_broadcaster_always_sees_their_own_broadcast(s):
    assert decide(dataclasses.replace(s, self_view=True), NOW) == Decision.ADMIT


@given(standings)
def test_an_ignored_viewer_is_always_ignored(s):
    assert decide(dataclasses.replace(s, self_view=False, ignored=True), NOW) == Decision.IGNORE


@given(standings)
def test_a_thrown_viewer_needs_consent_given_after_the_throw(s):
    s = dataclasses.replace(s, self_view=False, ignored=False, thrown_at=NOW - 5, thrown_until=NOW + 60)
    consented = any(t is not None and t >= NOW - 5 for t in (s.granted_at, s.invited_at))
    assert decide(s, NOW) == (Decision.ADMIT if consented else Decision.ASK)


@given(standings)
def test_a_ban_that_ended_changes_nothing(s):
    ended = dataclasses.replace(s, thrown_at=NOW - 100, thrown_until=NOW - 1)
    assert decide(ended, NOW) == decide(dataclasses.replace(s, thrown_at=None, thrown_until=None), NOW)


@given(standings)
def test_consent_given_now_never_takes_admission_away(s):
    before = decide(s, NOW)
    after = decide(dataclasses.replace(s, granted_at=NOW), NOW)
    assert before != Decision.ADMIT or after == Decision.ADMIT


@given(standings)
def test_everyone_admits_all_but_the_ignored_and_the_banned(s):
    s = dataclasses.replace(s, rule=AccessKind.EVERYONE, ignored=False, thrown_until=None)
    assert decide(s, NOW) == Decision.ADMIT


@pytest.mark.parametrize(
    "rule, facts, expected",
    [
        (AccessKind.FRIENDS, {"friend": True}, Decision.ADMIT),
        (AccessKind.FRIENDS, {}, Decision.REFUSE),
        (AccessKind.LIST, {}, Decision.REFUSE),
        (AccessKind.LIST, {"allowed": True}, Decision.ADMIT),
        (AccessKind.ASK, {}, Decision.ASK),
        (AccessKind.ASK, {"allowed": True}, Decision.ADMIT),
        (AccessKind.ASK, {"granted_at": 1.0}, Decision.ADMIT),
        (AccessKind.ASK, {"invited_at": 1.0}, Decision.ADMIT),
        (AccessKind.ROOM, {"room_member": True}, Decision.ADMIT),
        (AccessKind.ROOM, {}, Decision.REFUSE),
    ],
)
def test_each_rule(rule, facts, expected):
    assert decide(Standing(rule=rule, room="#cams", **facts), NOW) == expected


def test_refusals_say_why():
    assert refusal("alice", Standing(AccessKind.FRIENDS)) == "alice only lets friends watch"
    assert refusal("alice", Standing(AccessKind.ROOM, "#cams")) == "alice only lets members of #cams watch"


@pytest.mark.parametrize(
    "key, value, stored",
    [
        ("quality", "3", 3),
        ("size", "320X240", "320x240"),
        ("rate", "better", "better"),
        ("access", "room:#cams", "room:#cams"),
        ("turbo", "always", "always"),
    ],
)
def test_settings_are_checked_and_normalised(key, value, stored):
    assert parse_value(key, value) == stored


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("quality", "11", "quality is a whole number from 0 to 10"),
        ("size", "big", "size is WxH"),
        ("rate", "fast", "rate is faster"),
        ("access", "room:cams", "access is everyone"),
        ("turbo", "maybe", "turbo is always"),
        ("colour", "red", "unknown setting 'colour'"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_line(key, value, message):
    with pytest.raises(ValueError, match=message):
        parse_value(key, value)


def test_defaults_fill_the_gaps_and_replace_stale_values():
    values = with_defaults({"quality": 2, "rate": "nonsense"})
    assert values["quality"] == 2 and values["rate"] == "faster" and values["access"] == "everyone"
    assert access_rule("room:#cams") == (AccessKind.ROOM, "#cams")
