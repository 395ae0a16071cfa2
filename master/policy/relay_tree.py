"""The shape of a broadcast's relay tree (C10), as pure functions of plain data.

A broadcast lives on its *origin* slave. Once ``relay_after`` viewers watch it there, new
viewers go to *relays*: other slaves that pull the stream from the origin or from another
relay. ``RelayTree`` holds who pulls from whom (``upstream``: relay -> its upstream, as the
relays last reported it); the rules here keep it a tree:

* bounded fan-out: a node feeds at most ``max_children`` relays;
* bounded depth: a relay is at most ``max_depth`` hops from the origin;
* least-loaded choice: among the nodes allowed, the one with the fewest viewers of the
  broadcast (then the fewest children, the shallowest, the smallest id);
* never a cycle: a relay never pulls from itself or from any relay below it.

Reported links may be stale (heartbeats lag by a second) or name a relay that died;
everything here tolerates that: a relay whose chain does not reach the origin is
*detached* and counts as no upstream, and walks are bounded by the number of links.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TreeLimits:
    relay_after: int  # viewers of one broadcast on one node before new ones go elsewhere
    max_children: int = 4
    max_depth: int = 3


@dataclass(frozen=True)
class Placement:
    """Where a viewer goes: ``node``; ``upstream`` is where that node pulls from (None: the
    node is the origin or already a relay, nothing to start)."""

    node: str
    upstream: str | None = None


@dataclass
class RelayTree:
    origin: str
    upstream: dict[str, str] = field(default_factory=dict)

    def depth(self, node: str) -> int | None:
        """Hops from the origin; None if ``node``'s chain does not reach the origin."""
        hops = 0
        for _ in range(len(self.upstream) + 1):
            if node == self.origin:
                return hops
            parent = self.upstream.get(node)
            if parent is None:
                return None
            node, hops = parent, hops + 1
        return None  # a reported cycle: treat as detached

    def nodes(self) -> list[str]:
        """The origin and every relay attached to it."""
        return [self.origin] + sorted(r for r in self.upstream if r != self.origin and self.depth(r) is not None)

    def children(self, node: str) -> list[str]:
        return sorted(r for r, parent in self.upstream.items() if parent == node and r != self.origin)

    def height(self, node: str) -> int:
        """Hops from ``node`` down to its deepest relay."""
        return max((1 + self.height(child) for child in self.children(node) if child != node), default=0)

    def below(self, node: str) -> set[str]:
        """Every relay whose chain passes through ``node`` (not ``node`` itself)."""
        found: set[str] = set()
        frontier = [node]
        while frontier:
            for child in self.children(frontier.pop()):
                if child not in found and child != node:
                    found.add(child)
                    frontier.append(child)
        return found


def feeders(
    tree: RelayTree, limits: TreeLimits, viewers: dict[str, int], exclude: set[str], height: int = 0
) -> list[str]:
    """Nodes that may feed one more relay (with ``height`` hops of relays below it), best first."""
    allowed = []
    for node in tree.nodes():
        depth = tree.depth(node)
        if node in exclude or depth is None or depth + 1 + height > limits.max_depth:
            continue
        if len(tree.children(node)) < limits.max_children:
            allowed.append(node)
    return sorted(allowed, key=lambda n: (viewers.get(n, 0), len(tree.children(n)), tree.depth(n), n))


def place_viewer(tree: RelayTree, limits: TreeLimits, viewers: dict[str, int], loads: dict[str, int]) -> Placement:
    """Where a new viewer of the broadcast goes.

    ``viewers``: viewers of this broadcast per node; ``loads``: every live slave that may
    take sessions -> its load. The origin and its relays take viewers up to
    ``relay_after`` each (the least watched first); when all are full, a new relay starts
    on the least-loaded live slave outside the tree, under the best feeder. When no relay
    can be added, the least watched node of the tree takes the viewer over the limit.
    """
    if limits.relay_after <= 0:
        return Placement(tree.origin)
    members = [n for n in tree.nodes() if n == tree.origin or n in loads]
    by_viewers = sorted(members, key=lambda n: (viewers.get(n, 0), tree.depth(n), n))
    for node in by_viewers:
        if viewers.get(node, 0) < limits.relay_after:
            return Placement(node)
    outside = sorted((s for s in loads if s not in members and s not in tree.upstream), key=lambda s: (loads[s], s))
    parents = feeders(tree, limits, viewers, exclude=set(tree.upstream) - set(members))
    if outside and parents:
        return Placement(outside[0], parents[0])
    return Placement(by_viewers[0])


def choose_upstream(tree: RelayTree, limits: TreeLimits, relay: str, viewers: dict[str, int], avoid: str = "") -> str:
    """A (new) upstream for ``relay``: never itself or a relay below it (no cycle), not
    ``avoid`` (the upstream it is leaving) unless that is the origin and nothing else is
    allowed; the origin if nothing else fits (it always exists)."""
    below = tree.below(relay) | {relay}
    detached = {r for r in tree.upstream if tree.depth(r) is None}
    height = tree.height(relay) if tree.depth(relay) is not None else 0
    for node in feeders(tree, limits, viewers, exclude=below | detached | {avoid}, height=height):
        if node not in tree.children(relay):
            return node
    return tree.origin
