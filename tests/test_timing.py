"""Timing thresholds (gaps between frames, latency), kept apart from the functional tests:
they measure this machine as much as the code, so the default run (`make test`) leaves
them out and `make test-timing` runs them. The benchmarks in bench/ record the figures."""

import pytest

from tests.conftest import json_lines
from tests.test_flow_control import flow_cluster, people, slow_and_fast_scenario  # noqa: F401  (fixtures)
from tests.test_operations import drain_scenario, redis_restart_scenario, sigterm_scenario

pytestmark = pytest.mark.timing
FRAME_INTERVAL_MS = 1000 / 15


def test_a_drain_leaves_no_gap_beyond_a_few_frames(own_cluster, tmp_path):
    _, outputs, _ = drain_scenario(own_cluster, tmp_path)
    gaps = [json_lines(stdout)[-1]["max_gap_ms"] for stdout, _ in outputs]
    assert max(gaps) < 5 * FRAME_INTERVAL_MS, gaps


def test_a_sigterm_drain_leaves_no_gap_beyond_a_few_frames(own_cluster, tmp_path):
    _, _, _, lines, err = sigterm_scenario(own_cluster, tmp_path)
    assert lines[-1]["max_gap_ms"] < 5 * FRAME_INTERVAL_MS, err


def test_a_redis_outage_does_not_slow_the_streams(own_cluster, tmp_path):
    lines, _ = redis_restart_scenario(own_cluster, tmp_path)
    assert all(line["fps"] > 5 for line in lines[1:-1]), [line["fps"] for line in lines]
    assert lines[-1]["max_gap_ms"] < 500


def test_latency_stays_low_for_the_fast_viewer_and_bounded_for_the_slow_one(people, flow_cluster):  # noqa: F811
    fast_lines, slow_viewer = slow_and_fast_scenario(people, flow_cluster, "t")
    assert max(line["latency_ms"] for line in fast_lines[1:-1]) < 100
    latencies = [received - captured for _, captured, received in slow_viewer.frames]
    half = len(latencies) // 2
    assert max(latencies[half:]) < 2.0 and max(latencies[half:]) < 3 * max(latencies[:half]) + 0.5, (
        "no backlog: the slow viewer's latency stays bounded"
    )
