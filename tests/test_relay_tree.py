"""The relay tree's shape (C10): fan-out and depth bounds, least-loaded choice, no cycles."""

from hypothesis import given, settings
from hypothesis import strategies as st

from master.policy.relay_tree import Placement, RelayTree, TreeLimits, choose_upstream, place_viewer

LIMITS = TreeLimits(relay_after=2, max_children=2, max_depth=2)


def test_viewers_fill_the_origin_first():
    tree = RelayTree("o")
    assert place_viewer(tree, LIMITS, {"o": 1}, {"o": 3, "a": 0}) == Placement("o")


def test_a_full_origin_starts_a_relay_on_the_least_loaded_slave():
    tree = RelayTree("o")
    assert place_viewer(tree, LIMITS, {"o": 2}, {"o": 3, "a": 5, "b": 1}) == Placement("b", "o")


def test_existing_relays_with_room_take_viewers_before_a_new_relay():
    tree = RelayTree("o", {"a": "o"})
    assert place_viewer(tree, LIMITS, {"o": 2, "a": 1}, {"o": 3, "a": 2, "b": 0}) == Placement("a")


def test_a_full_origin_hands_new_relays_to_relays():
    tree = RelayTree("o", {"a": "o", "b": "o"})
    placement = place_viewer(tree, LIMITS, {"o": 2, "a": 2, "b": 2}, {"o": 3, "a": 2, "b": 2, "c": 0})
    assert placement == Placement("c", "a")


def test_with_no_room_anywhere_the_least_watched_node_takes_the_viewer():
    tree = RelayTree("o", {"a": "o"})
    assert place_viewer(tree, LIMITS, {"o": 3, "a": 2}, {"o": 4, "a": 2}) == Placement("a")


def test_no_relays_when_relaying_is_off():
    tree = RelayTree("o")
    assert place_viewer(tree, TreeLimits(0), {"o": 50}, {"o": 50, "a": 0}) == Placement("o")


def test_a_relay_never_pulls_from_below_itself():
    tree = RelayTree("o", {"a": "o", "b": "a"})
    assert choose_upstream(tree, TreeLimits(2, 4, 5), "a", {"o": 9, "b": 0}, avoid="o") == "o"


def test_a_switching_relay_avoids_its_old_upstream():
    tree = RelayTree("o", {"a": "o", "b": "o", "c": "a"})
    assert choose_upstream(tree, TreeLimits(2, 4, 3), "c", {}, avoid="a") == "b"


def test_a_dead_relay_in_the_reports_is_detached():
    tree = RelayTree("o", {"a": "x", "x": "a"})
    assert tree.depth("a") is None
    assert tree.nodes() == ["o"]
    assert choose_upstream(tree, LIMITS, "a", {}) == "o"


nodes = st.sampled_from(["o", "a", "b", "c", "d", "e", "f"])


@settings(max_examples=300, deadline=None)
@given(
    links=st.dictionaries(nodes, nodes, max_size=6),
    relay=nodes,
    avoid=nodes,
    counts=st.dictionaries(nodes, st.integers(0, 5)),
    children=st.integers(1, 3),
    depth=st.integers(1, 4),
)
def test_switching_upstream_never_makes_a_cycle(links, relay, avoid, counts, children, depth):
    tree = RelayTree("o", {r: u for r, u in links.items() if r != "o"})
    if relay == "o":
        return
    upstream = choose_upstream(tree, TreeLimits(2, children, depth), relay, counts, avoid)
    assert upstream != relay
    assert upstream not in tree.below(relay)
    tree.upstream[relay] = upstream
    assert tree.depth(relay) is not None  # the relay reaches the origin again


@settings(max_examples=200, deadline=None)
@given(
    viewers=st.integers(1, 60),
    slaves=st.integers(1, 6),
    after=st.integers(1, 5),
    children=st.integers(1, 3),
    depth=st.integers(1, 3),
)
def test_growing_a_tree_keeps_its_bounds(viewers, slaves, after, children, depth):
    limits = TreeLimits(after, children, depth)
    loads = {f"s{i}": 0 for i in range(slaves)}
    tree = RelayTree("s0")
    counts: dict[str, int] = {}
    for _ in range(viewers):
        placement = place_viewer(tree, limits, counts, loads)
        if placement.upstream is not None:
            assert placement.node not in tree.nodes()
            tree.upstream[placement.node] = placement.upstream
        counts[placement.node] = counts.get(placement.node, 0) + 1
        loads[placement.node] += 1
    for node in tree.nodes():
        assert tree.depth(node) <= depth
        assert len(tree.children(node)) <= children
    over = [n for n in tree.nodes() if counts.get(n, 0) > after]
    if over:  # over the limit only once the tree cannot grow any more
        assert len(tree.nodes()) == slaves or all(
            len(tree.children(n)) == children or tree.depth(n) == depth for n in tree.nodes()
        )
