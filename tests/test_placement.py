"""Choosing the least-loaded live slave (C5), as a pure function."""
from hypothesis import given, strategies as st

from master.placement import DEAD, DRAINING, LIVE, SlaveRecord, choose_slave, effective_state

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


@given(st.lists(st.tuples(st.integers(0, 100), st.floats(0, 10), st.sampled_from([LIVE, DRAINING])), max_size=12))
def test_choice_is_live_and_minimal(rows):
    slaves = [slave(f"s{i}", load, age, state) for i, (load, age, state) in enumerate(rows)]
    chosen = choose_slave(slaves, NOW, 3)
    live = [s for s in slaves if effective_state(s, NOW, 3) == LIVE]
    if not live:
        assert chosen is None
    else:
        assert chosen in live and chosen.load == min(s.load for s in live)
