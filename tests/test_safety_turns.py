"""The crossing level of every turn (``Stress.crossing_level`` / ``crossing_edge``) against a plain per-turn
reading of the angular rule, on the bundled sample and a real extract: the fast path for nodes with at most three
edges (nothing can be crossed there) must give what the full rule gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import sample_file

from childspace.analysis.safety import network_stress
from childspace.network.engine import WalkNetwork

ROOT = Path(__file__).resolve().parents[1]
KREMS = Path("/work/shared/realdata/krems.osm.gz")


def _rule(stress, node: int, a: int, b: int) -> tuple[int, int]:
    """The rule of ``Stress._crossing`` read one turn at a time (the reference)."""
    deg = int(stress.degree[node])
    row = [int(e) for e in stress.ring_edge[node]]  # with its -1 padding, as the rule looks edges up in it
    if 0 < deg <= len(row) and a in row and b in row:
        lv = [int(x) for x in stress.ring_level[node, :deg]]
        ra, rb = row.index(a), row.index(b)
        rel_b = (rb - ra) % deg
        side1 = [k for k in range(deg) if 0 < (k - ra) % deg < rel_b]
        side2 = [k for k in range(deg) if (k - ra) % deg > rel_b]
        m1 = max((lv[k] for k in side1), default=-1)
        m2 = max((lv[k] for k in side2), default=-1)
        side, m = (side1, m1) if m1 <= m2 else (side2, m2)
        if m <= 0:
            return 0, -1
        w = row[min(k for k in side if lv[k] == m)]
        n_e = stress.edges.shape[0]
        if w >= n_e:
            w = int(stress.virtual_edge[w - n_e])
        return m, w
    for j in range(stress.top_edge.shape[1]):  # fallback: the worst other road at the node
        e = int(stress.top_edge[node, j])
        if e >= 0 and e != a and e != b:
            return int(stress.top_level[node, j]), e
    return 0, -1


def _turns(net: WalkNetwork) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ptr, inc_edge, _ = net._incidence()
    node, a, b = [], [], []
    for n in range(net.n_nodes):
        es = inc_edge[ptr[n] : ptr[n + 1]]
        for x in es:
            for y in es:
                node.append(n)
                a.append(x)
                b.append(y)
    return np.array(node), np.array(a), np.array(b)


def _check(net: WalkNetwork, limit: int | None = None) -> int:
    stress = network_stress(net)
    node, a, b = _turns(net)
    rng = np.random.default_rng(5)
    k = 2000  # odd queries too: edges not at the node, no entering edge (-1)
    node = np.r_[node, rng.integers(0, net.n_nodes, k), node[:k]]
    a = np.r_[a, rng.integers(-1, net.n_edges, k), np.full(min(k, len(b)), -1)]
    b = np.r_[b, rng.integers(-1, net.n_edges, k), b[:k]]
    if limit is not None and node.size > limit:
        pick = rng.choice(node.size, limit, replace=False)
        node, a, b = node[pick], a[pick], b[pick]
    level = stress.crossing_level(node, a, b)
    edge = stress.crossing_edge(node, a, b)
    ref = np.array([_rule(stress, int(n), int(x), int(y)) for n, x, y in zip(node, a, b)])
    np.testing.assert_array_equal(level, ref[:, 0])
    np.testing.assert_array_equal(edge, ref[:, 1])
    deg = stress.degree[node]
    # both kinds of node are exercised, and crossings are found at the larger ones
    assert ((deg <= 3) & (deg > 0)).any() and (level[deg >= 4] > 0).any()
    return int(node.size)


def test_turn_levels_sample():
    sample_file("osm/sample.osm")
    net = WalkNetwork.from_osm(ROOT / "childspace" / "data" / "osm" / "sample.osm")
    assert _check(net) > 1000


@pytest.mark.skipif(not KREMS.exists(), reason="real extract not available")
def test_turn_levels_real_extract():
    net = WalkNetwork.from_osm(KREMS)
    assert _check(net, limit=60_000) > 10_000
