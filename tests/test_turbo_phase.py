"""Turbo mode's switch (``slave.turbo_phase``): every listed step works, every other one
raises and changes nothing, and the phase always knows the one viewer it concerns."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slave.transitions import IllegalTransition
from slave.turbo_phase import TRANSITIONS, WITH_VIEWER, Phase, Step, TurboPhase

VIEWER = "viewer-1"
ROUTES = {  # how to get to each phase from ``server``
    Phase.SERVER: [],
    Phase.OFFERED: [Step.OFFER],
    Phase.PEER: [Step.OFFER, Step.TAKE],
    Phase.ENDING: [Step.OFFER, Step.TAKE, Step.SHARE],
}


def phase_in(phase: Phase) -> TurboPhase:
    machine = TurboPhase()
    for step in ROUTES[phase]:
        machine.fire(step, VIEWER if step in WITH_VIEWER else None)
    assert machine.state is phase
    return machine


@pytest.mark.parametrize("source,step", sorted(TRANSITIONS, key=lambda pair: (pair[0].value, pair[1].value)))
def test_every_listed_step_works(source, step):
    machine = phase_in(source)
    viewer = "viewer-2" if step in WITH_VIEWER else None
    assert machine.fire(step, viewer) is TRANSITIONS[source, step]
    expected = None if machine.state is Phase.SERVER else viewer or VIEWER
    assert machine.viewer == expected


@pytest.mark.parametrize("phase", list(Phase))
def test_every_unlisted_step_raises_and_changes_nothing(phase):
    for step in Step:
        if (phase, step) in TRANSITIONS:
            continue
        machine = phase_in(phase)
        viewer_before = machine.viewer
        with pytest.raises(IllegalTransition, match=f"{step.value} is not allowed when {phase.value}"):
            machine.fire(step, VIEWER if step in WITH_VIEWER else None)
        assert machine.state is phase and machine.viewer == viewer_before


def test_the_steps_that_concern_a_new_viewer_must_name_it_and_no_other_may():
    with pytest.raises(ValueError):
        TurboPhase().fire(Step.OFFER)
    with pytest.raises(ValueError):
        phase_in(Phase.PEER).fire(Step.SHARE, "someone")


@pytest.mark.parametrize(
    "steps,end",
    [
        ([Step.OFFER, Step.TAKE, Step.SHARE, Step.UPLOAD], Phase.SERVER),  # a second viewer came
        ([Step.OFFER, Step.TAKE, Step.BACK], Phase.SERVER),  # the peer link failed
        ([Step.OFFER, Step.DECLINE, Step.OFFER], Phase.OFFERED),  # no candidate answered; offered again
        ([Step.OFFER, Step.TAKE, Step.SHARE, Step.LEFT], Phase.SERVER),  # left before the uploads resumed
        ([Step.OFFER, Step.LEFT], Phase.SERVER),
    ],
)
def test_the_paths_of_a_switch(steps, end):
    machine = TurboPhase()
    for step in steps:
        machine.fire(step, VIEWER if step in WITH_VIEWER else None)
    assert machine.state is end


@given(st.lists(st.tuples(st.sampled_from(list(Step)), st.sampled_from(["a", "b"])), max_size=30))
def test_any_sequence_follows_the_table_and_names_its_viewer(steps):
    machine = TurboPhase()
    for step, viewer in steps:
        named = viewer if step in WITH_VIEWER else None
        expected = TRANSITIONS.get((machine.state, step))
        before = (machine.state, machine.viewer)
        if expected is None:
            with pytest.raises(IllegalTransition):
                machine.fire(step, named)
            assert (machine.state, machine.viewer) == before
            continue
        machine.fire(step, named)
        assert machine.state is expected
        if expected is Phase.SERVER:
            assert machine.viewer is None
        else:
            assert machine.viewer == (named or before[1]) and machine.viewer is not None
