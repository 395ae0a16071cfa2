"""``framecast up`` restarts nodes that exit, with Docker's backoff (cli/supervisor.py)."""

from dataclasses import dataclass

from hypothesis import given, strategies as st

from cli.supervisor import FIRST_DELAY, LONGEST_DELAY, STEADY_AFTER, RestartDelay, Supervisor


@dataclass
class FakeNode:
    name: str
    code: int | None = None
    starts: int = 1

    def exit_code(self):
        return self.code


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def respawn(node):
    node.code, node.starts = None, node.starts + 1


def test_a_node_that_exits_is_restarted_after_the_first_delay():
    clock, master, slave = FakeClock(), FakeNode("master-1"), FakeNode("slave-1")
    supervisor = Supervisor([master, slave], respawn, clock)
    assert supervisor.check() == []
    master.code = -9
    assert supervisor.check() == [f"master-1 exited with status -9; restarting it in {FIRST_DELAY:g} s"]
    assert supervisor.check() == [] and master.starts == 1  # not before its delay
    clock.now += FIRST_DELAY
    assert supervisor.check() == ["master-1 restarted"]
    assert master.starts == 2 and slave.starts == 1


def test_the_delay_doubles_while_a_node_keeps_dying_and_resets_once_it_ran_steadily():
    clock, node = FakeClock(), FakeNode("slave-1")
    supervisor = Supervisor([node], respawn, clock)
    supervisor.check()
    delays = []
    for _ in range(4):
        node.code = 1
        line = supervisor.check()[0]
        delays.append(float(line.rsplit(" in ", 1)[1].removesuffix(" s")))
        clock.now += delays[-1]
        supervisor.check()
    assert delays == [FIRST_DELAY, 2 * FIRST_DELAY, 4 * FIRST_DELAY, 8 * FIRST_DELAY]
    clock.now += STEADY_AFTER
    node.code = 1
    assert supervisor.check()[0].endswith(f"in {FIRST_DELAY:g} s")


@given(st.lists(st.floats(min_value=0, max_value=1000), min_size=1, max_size=40))
def test_the_delay_stays_between_the_first_and_the_longest(runs):
    delay = RestartDelay()
    for ran_for in runs:
        wait = delay.after_exit(ran_for)
        assert FIRST_DELAY <= wait <= LONGEST_DELAY
        if ran_for >= STEADY_AFTER:
            assert wait == FIRST_DELAY
