"""The report graph's layout: every node placed once, layers by BFS depth, no overlaps, few crossings."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.analytics.coverage import flow_edges
from ivr.flow.graph import reachable
from ivr.flow.layout import SLOT_W, _crossings, depths, edges, layout
from ivr.flow.loader import flow_files, load_flow

FLOWS = Path(__file__).resolve().parents[2] / "flows"
DEMOS = [load_flow(f).flow for f in flow_files(FLOWS)]


@pytest.mark.parametrize("flow", DEMOS, ids=lambda f: f.flow)
def test_every_node_has_a_place_and_no_two_overlap(flow):
    lay = layout(flow)
    assert set(lay.centres) == set(flow.nodes)
    assert sorted(n for layer in lay.layers for n in layer) == sorted(flow.nodes)
    for layer in lay.layers:
        xs = sorted(lay.centres[n][0] for n in layer)
        assert all(b - a >= SLOT_W - 1e-6 for a, b in zip(xs, xs[1:]))
    assert all(0 <= x <= lay.width and 0 <= y <= lay.height for x, y in lay.centres.values())
    assert sorted((r.edge.src, r.edge.dst) for r in lay.routes) == sorted(flow_edges(flow))


@pytest.mark.parametrize("flow", DEMOS, ids=lambda f: f.flow)
def test_layers_are_bfs_depth_and_the_post_call_survey_follows_the_transfers(flow):
    es = edges(flow)
    d = depths(flow, es)
    assert d[flow.start] == 0
    from_start = reachable(flow) - ({flow.settings.survey} if flow.settings.survey else set())
    for e in es:  # BFS: a node reached from start is at most one layer below any node leading to it
        if e.src in from_start:
            assert d[e.dst] <= d[e.src] + 1
    if flow.settings.survey:
        handoffs = [d[n] for n, node in flow.nodes.items() if node.kind in ("transfer", "voicemail", "callback")]
        assert d[flow.settings.survey] == max(handoffs) + 1
        assert layout(flow).post_call == flow.settings.survey


def test_acme_is_drawn_without_crossings_and_edges_carry_their_keys():
    acme = next(f for f in DEMOS if f.flow == "acme")
    lay = layout(acme)
    down: dict[str, list[str]] = {}
    for e in edges(acme):
        down.setdefault(e.src, []).append(e.dst)
    assert _crossings(lay.layers, down) == 0
    labels = {(e.src, e.dst): e.label for e in edges(acme)}
    assert labels[("main", "balance")] == "1" and labels[("main", "cards")] == "2"
