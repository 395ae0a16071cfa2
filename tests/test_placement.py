"""Choosing the least-loaded live slave (C5), as a pure function."""

import dataclasses

from hypothesis import given, strategies as st

from common.messages.cluster import SlaveState
from common.signing import CLOCK_SKEW
from master.policy.placement import choose_slave, effective_state
from master.policy.records import SlaveRecord

LIVE, DRAINING, DEAD = SlaveState.LIVE, SlaveState.DRAINING, SlaveState.DEAD

NOW = 1000.0


def slave(id, load=0, age=0.5, state=LIVE, placed=0):
    return SlaveRecord(id=id, addr=f"{id}:1", load=load, heartbeat=NOW - age, state=state, placed=placed)


def test_least_loaded_live_slave_wins():
    assert choose_slave([slave("a", 5), slave("b", 2), slave("c", 9)], NOW, 3).id == "b"


def test_dead_and_draining_slaves_are_never_chosen():
    slaves = [slave("a", 0, age=10), slave("b", 0, state=DRAINING), slave("c", 50)]
    assert choose_slave(slaves, NOW, 3).id == "c"
    assert choose_slave([slave("a", age=10)], NOW, 3) is None
    assert choose_slave([], NOW, 3) is None


def test_placements_since_the_last_heartbeat_count_as_load():
    assert choose_slave([slave("a", 0, placed=3), slave("b", 2)], NOW, 3).id == "b"


def test_ties_are_broken_by_id():
    assert choose_slave([slave("b", 1), slave("a", 1)], NOW, 3).id == "a"


def test_effective_state():
    assert effective_state(slave("a", age=3.5), NOW, 3) == DEAD
    assert effective_state(slave("a", state=DRAINING), NOW, 3) == DRAINING


def test_a_drain_the_slave_has_not_heard_of_yet_already_keeps_it_out_of_placement():
    wanted = SlaveRecord("a", "a:1", 0, NOW, LIVE, wanted=DRAINING)
    assert effective_state(wanted, NOW, 3) == DRAINING
    assert choose_slave([wanted, slave("b", 9)], NOW, 3).id == "b"


@given(st.lists(st.tuples(st.integers(0, 100), st.floats(0, 10), st.sampled_from([LIVE, DRAINING])), max_size=12))
def test_choice_is_live_and_minimal(rows):
    slaves = [slave(f"s{i}", load, age, state) for i, (load, age, state) in enumerate(rows)]
    chosen = choose_slave(slaves, NOW, 3)
    live = [s for s in slaves if effective_state(s, NOW, 3) == LIVE]
    if not live:
        assert chosen is None
    else:
        assert chosen in live and chosen.load == min(s.load for s in live)


def test_a_moving_broadcast_never_goes_back_to_its_slave():
    assert choose_slave([slave("a", 0), slave("b", 9)], NOW, 3, avoid="a").id == "b"
    assert choose_slave([slave("a", 0)], NOW, 3, avoid="a") is None


def test_rebalance_moves_load_onto_a_new_slave():
    from master.policy.placement import plan_rebalance

    loads = {"a": 8, "b": 8, "new": 0}
    broadcasts = {"u1": ("a", 3), "u2": ("a", 3), "u3": ("b", 3), "u4": ("b", 3)}
    moves = plan_rebalance(loads, broadcasts)
    assert moves and all(to == "new" for _, _, to in moves)
    after = dict(loads)
    for user, source, target in moves:
        after[source] -= 1 + broadcasts[user][1]
        after[target] += 1 + broadcasts[user][1]
    assert max(after.values()) - min(after.values()) < 8


def test_rebalance_leaves_a_balanced_cluster_alone():
    from master.policy.placement import plan_rebalance

    assert plan_rebalance({"a": 4, "b": 4}, {"u1": ("a", 3), "u2": ("b", 3)}) == []
    assert plan_rebalance({"a": 4}, {"u1": ("a", 3)}) == []


@given(
    st.dictionaries(st.sampled_from("abcd"), st.integers(0, 50), min_size=1),
    st.dictionaries(st.text("uvwxyz", min_size=1, max_size=3), st.tuples(st.sampled_from("abcd"), st.integers(0, 9))),
)
def test_rebalance_never_widens_the_gap(loads, broadcasts):
    from master.policy.placement import plan_rebalance

    after = dict(loads)
    for user, source, target in plan_rebalance(loads, broadcasts):
        assert source != target
        after[source] -= 1 + broadcasts[user][1]
        after[target] += 1 + broadcasts[user][1]
    assert max(after.values()) - min(after.values()) <= max(loads.values()) - min(loads.values())


def test_another_masters_slaves_are_given_the_clock_skew():
    """Found by the chaos run: a master restarted with its clock 3 s ahead found every slave
    whose heartbeats the other master received dead, each second, and cleared their sessions."""
    theirs = SlaveRecord(id="a", addr="a:1", load=0, heartbeat=NOW - 3.5, master="master-2")
    assert effective_state(theirs, NOW, 3, me="master-1") == LIVE
    assert effective_state(theirs, NOW, 3, me="master-2") == DEAD
    assert effective_state(dataclasses.replace(theirs, heartbeat=NOW - 3 - CLOCK_SKEW - 0.1), NOW, 3, "master-1") == DEAD
