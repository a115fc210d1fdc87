"""The report page's flow graph as inline SVG: traffic, drop-off, lint findings and script coverage on one picture.

Geometry comes from :mod:`ivr.flow.layout`; this module only draws. Each
node's colour is its drop-off (abandoned / entered) on a green-to-red scale,
its size its traffic (entered, relative to the busiest node); nodes and
edges no call script exercised are dashed; a node with lint findings wears a
badge. The DOM carries the numbers (``data-entered``, ``data-dropoff``,
``data-covered``) so tests and curious people can read them exactly.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from markupsafe import escape

from ..errors import Problem
from ..flow.layout import Layout, Route
from ..flow.model import Flow

NODE_W, NODE_H = 150.0, 44.0
"""Shape size at average traffic; scaled from 0.7x (no calls) to 1.2x (the busiest node)."""
LABEL_CHARS = 18
DROPOFF_STOPS = ((0.0, (46, 158, 91)), (0.1, (166, 200, 76)), (0.25, (240, 180, 41)), (0.5, (214, 69, 69)))
"""Drop-off share -> colour; 50 % and above is full red (a node that loses half its callers is an emergency)."""
NO_TRAFFIC = "#d5d9de"
HANDOFF_KINDS = ("transfer", "voicemail", "callback")


def dropoff_colour(share: float) -> str:
    """Colour of a drop-off share on the legend's scale (linear between the stops)."""
    share = max(0.0, share)
    for (a, ca), (b, cb) in zip(DROPOFF_STOPS, DROPOFF_STOPS[1:]):
        if share <= b:
            t = (share - a) / (b - a)
            return "#%02x%02x%02x" % tuple(round(x + (y - x) * t) for x, y in zip(ca, cb))
    return "#%02x%02x%02x" % DROPOFF_STOPS[-1][1]


def _text_colour(fill: str) -> str:
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return "#111" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#fff"


def truncate(text: str, n: int = LABEL_CHARS) -> str:
    """At most ``n`` characters, an ellipsis marking the cut (the full text goes in the <title>)."""
    return text if len(text) <= n else text[:n - 1] + "\u2026"


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _shape(kind: str, cx: float, cy: float, w: float, h: float, style: str) -> str:
    """The node's outline by kind: hexagon for decisions, pill for goodbyes, ellipse for surveys,
    a heavy box for handing over to a person, a rounded box for everything the caller answers."""
    x0, y0 = cx - w / 2, cy - h / 2
    if kind in ("branch", "action"):
        k = h / 2.5
        pts = [(x0 + k, y0), (x0 + w - k, y0), (x0 + w, cy), (x0 + w - k, y0 + h), (x0 + k, y0 + h), (x0, cy)]
        return f'<polygon class="shape" points="{" ".join(f"{_f(a)},{_f(b)}" for a, b in pts)}" {style}/>'
    if kind == "survey":
        return f'<ellipse class="shape" cx="{_f(cx)}" cy="{_f(cy)}" rx="{_f(w / 2)}" ry="{_f(h / 2)}" {style}/>'
    rx = {"hangup": h / 2, "say": 3.0}.get(kind, 9.0)
    extra = ' stroke-width="3"' if kind in HANDOFF_KINDS else ""
    return (f'<rect class="shape" x="{_f(x0)}" y="{_f(y0)}" width="{_f(w)}" height="{_f(h)}" rx="{_f(rx)}"'
            f'{extra} {style}/>')


def node_findings(problems: list[Problem], flow: Flow) -> dict[str, list[Problem]]:
    """Lint findings by the node they are about (every lint message starts with ``node 'ID'``)."""
    out: dict[str, list[Problem]] = {}
    for p in problems:
        if p.message.startswith("node '"):
            nid = p.message[6:].split("'", 1)[0]
            if nid in flow.nodes:
                out.setdefault(nid, []).append(p)
    return out


def render(flow: Flow, lay: Layout, nodes: dict[str, dict[str, Any]], findings: dict[str, list[Problem]],
           coverage: Optional[dict[str, Any]]) -> str:
    """The whole graph as one ``<svg>`` element.

    Args:
        nodes: the report's funnel, ``{node: {entered, abandoned, escalated, no_input, no_match}}``.
        findings: lint findings by node (:func:`node_findings`).
        coverage: the saved coverage result of the flow's call scripts, or None when none was saved.
    """
    busiest = max((int((nodes.get(n) or {}).get("entered") or 0) for n in flow.nodes), default=0)
    covered_nodes = set(coverage.get("covered_nodes") or []) if coverage else set()
    covered_edges = {tuple(e) for e in (coverage.get("covered_edges") or [])} if coverage else set()
    sizes: dict[str, tuple[float, float]] = {}
    for nid in flow.nodes:
        entered = int((nodes.get(nid) or {}).get("entered") or 0)
        s = 0.7 + 0.5 * math.sqrt(entered / busiest) if busiest else 0.85
        fit = 7.6 * len(truncate(nid)) + 18  # the label always fits, whatever the traffic
        sizes[nid] = (max(NODE_W * s, fit), NODE_H * min(s, 1.1))
    parts = [f'<svg id="flow-graph" class="graph" xmlns="http://www.w3.org/2000/svg" role="img" '
             f'viewBox="0 0 {_f(lay.width)} {_f(lay.height)}" width="{_f(lay.width)}" height="{_f(lay.height)}" '
             f'aria-label="The {escape(flow.flow)} flow: nodes coloured by drop-off, sized by traffic">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#55606e"/></marker></defs>',
             '<g class="edges">']
    for route in lay.routes:
        parts.append(_edge(route, lay, sizes, covered_edges, coverage is not None))
    parts.append('</g><g class="nodes">')
    for nid, node in flow.nodes.items():
        parts.append(_node(nid, node.kind, lay, sizes[nid], nodes.get(nid) or {}, findings.get(nid, []),
                           None if coverage is None else nid in covered_nodes, nid == lay.post_call))
    parts.append("</g></svg>")
    return "".join(parts)


def _node(nid: str, kind: str, lay: Layout, size: tuple[float, float], stats: dict[str, Any],
          problems: list[Problem], covered: Optional[bool], post_call: bool) -> str:
    cx, cy = lay.centres[nid]
    w, h = size
    entered = int(stats.get("entered") or 0)
    abandoned = int(stats.get("abandoned") or 0)
    share = abandoned / entered if entered else 0.0
    fill = dropoff_colour(share) if entered else NO_TRAFFIC
    dash = ' stroke-dasharray="6 4"' if covered is False else ""
    style = f'fill="{fill}" stroke="#33404f" stroke-width="1.5"{dash}'
    if kind in HANDOFF_KINDS:
        style = f'fill="{fill}" stroke="#1f3a5f"{dash}'
    detail = (f"{entered} in, {share:.0%} drop" if entered else "no calls")
    tip = [f"{nid} ({kind}{', after an agent call' if post_call else ''})",
           f"entered {entered}, abandoned {abandoned} ({share:.1%})"]
    for key in ("escalated", "no_input", "no_match"):
        if stats.get(key):
            tip.append(f"{key.replace('_', ' ')} {stats[key]}")
    if covered is not None:
        tip.append("covered by the call scripts" if covered else "NOT covered by any call script")
    tip += [f"{p.severity}: {p.message} [{p.code}]" for p in problems]
    ink = _text_colour(fill)
    out = [f'<g class="node kind-{kind}{" post-call" if post_call else ""}" data-node="{escape(nid)}" '
           f'data-kind="{kind}" data-entered="{entered}" data-abandoned="{abandoned}" '
           f'data-dropoff="{round(share, 4)}" '
           f'data-covered="{"unknown" if covered is None else str(covered).lower()}" '
           f'data-findings="{len(problems)}"><title>{escape(chr(10).join(tip))}</title>',
           _shape(kind, cx, cy, w, h, style),
           f'<text x="{_f(cx)}" y="{_f(cy - 3)}" text-anchor="middle" class="label" fill="{ink}">'
           f'{escape(truncate(nid))}</text>',
           f'<text x="{_f(cx)}" y="{_f(cy + 11)}" text-anchor="middle" class="detail" fill="{ink}">'
           f'{escape(kind)} \u00b7 {escape(detail)}</text>']
    if post_call:
        out.append(f'<text x="{_f(cx)}" y="{_f(cy - h / 2 - 6)}" text-anchor="middle" class="note">'
                   'after an agent call</text>')
    if problems:
        worst = "error" if any(p.severity == "error" for p in problems) else "warning"
        bx, by = cx + w / 2 - 4, cy - h / 2 + 2
        out.append(f'<g class="lint-mark {worst}" data-codes="{escape(" ".join(p.code for p in problems))}">'
                   f'<circle cx="{_f(bx)}" cy="{_f(by)}" r="9"/>'
                   f'<text x="{_f(bx)}" y="{_f(by + 4)}" text-anchor="middle">{len(problems)}</text></g>')
    out.append("</g>")
    return "".join(out)


def _edge(route: Route, lay: Layout, sizes: dict[str, tuple[float, float]], covered: set, known: bool) -> str:
    e = route.edge
    (sx, sy), (tx, ty) = lay.centres[e.src], lay.centres[e.dst]
    (sw, sh), (tw, th) = sizes[e.src], sizes[e.dst]
    if route.kind == "forward":
        pts = [(sx, sy + sh / 2), *route.points, (tx, ty - th / 2 - 2)]
        d = f"M{_f(pts[0][0])},{_f(pts[0][1])}"
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            m = (y1 - y0) / 2
            d += f" C{_f(x0)},{_f(y0 + m)} {_f(x1)},{_f(y1 - m)} {_f(x1)},{_f(y1)}"
        lx, ly = sx + (pts[1][0] - sx) * 0.3, sy + sh / 2 + 13
    elif e.src == e.dst:
        x = sx + sw / 2
        d = f"M{_f(x)},{_f(sy - 8)} C{_f(x + 45)},{_f(sy - 34)} {_f(x + 45)},{_f(sy + 34)} {_f(x + 3)},{_f(sy + 8)}"
        lx, ly = x + 40, sy + 4
    elif route.kind == "back":
        x0, x1 = sx + sw / 2, tx + tw / 2 + 3
        reach = max(x0, x1) + 40 + 12 * abs(ty - sy) / 96
        d = f"M{_f(x0)},{_f(sy)} C{_f(reach)},{_f(sy)} {_f(reach)},{_f(ty)} {_f(x1)},{_f(ty)}"
        lx, ly = x0 + 14, sy - 5
    else:  # within one layer: a curve below the layer
        y0, y1 = sy + sh / 2, ty + th / 2 + 2
        d = f"M{_f(sx)},{_f(y0)} C{_f(sx)},{_f(y0 + 34)} {_f(tx)},{_f(y1 + 34)} {_f(tx)},{_f(y1)}"
        lx, ly = (sx + tx) / 2, max(y0, y1) + 28
    is_covered = (e.src, e.dst) in covered
    dash = ' stroke-dasharray="5 4"' if known and not is_covered else ""
    state = "unknown" if not known else str(is_covered).lower()
    label = ""
    if e.label:
        label = (f'<text class="edge-label" x="{_f(lx)}" y="{_f(ly)}" text-anchor="middle">'
                 f'<title>{escape(e.label)}</title>{escape(truncate(e.label, 14))}</text>')
    return (f'<path class="edge {route.kind}" data-from="{escape(e.src)}" data-to="{escape(e.dst)}" '
            f'data-covered="{state}" d="{d}" fill="none" stroke="#55606e" stroke-width="1.4"{dash} '
            f'marker-end="url(#arrow)"><title>{escape(e.src)} \u2192 {escape(e.dst)}'
            f'{": " + escape(e.label) if e.label else ""}</title></path>{label}')


def legend() -> str:
    """The colour scale, the size scale, coverage and lint marks explained (an SVG of its own)."""
    stops = "".join(f'<stop offset="{a / 0.5:.2f}" stop-color="{dropoff_colour(a)}"/>' for a, _ in DROPOFF_STOPS)
    ticks = "".join(f'<line x1="{10 + 200 * a / 0.5:.0f}" y1="34" x2="{10 + 200 * a / 0.5:.0f}" y2="39" '
                    f'stroke="#333"/><text x="{10 + 200 * a / 0.5:.0f}" y="51" text-anchor="middle">'
                    f'{a:.0%}{"+" if a == 0.5 else ""}</text>' for a, _ in DROPOFF_STOPS)
    return ('<svg id="graph-legend" class="legend" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 760 60" '
            'width="760" height="60" role="img" aria-label="Legend of the flow graph">'
            f'<defs><linearGradient id="dropoff-scale">{stops}</linearGradient></defs>'
            '<text x="10" y="14" class="legend-title">drop-off (hung up here / entered)</text>'
            '<rect id="dropoff-scale-bar" x="10" y="20" width="200" height="14" fill="url(#dropoff-scale)" '
            f'stroke="#333" stroke-width=".5"/>{ticks}'
            f'<rect x="240" y="20" width="28" height="14" rx="4" fill="{NO_TRAFFIC}" stroke="#33404f"/>'
            '<text x="274" y="31">no calls</text>'
            '<rect x="340" y="24" width="26" height="9" rx="3" fill="#fff" stroke="#33404f"/>'
            '<rect x="372" y="18" width="44" height="18" rx="5" fill="#fff" stroke="#33404f"/>'
            '<text x="422" y="31">size: fewer / more calls</text>'
            '<line x1="560" y1="27" x2="596" y2="27" stroke="#55606e" stroke-width="1.5" stroke-dasharray="5 4"/>'
            '<text x="602" y="31">not covered by scripts</text>'
            '<g class="lint-mark warning"><circle cx="570" cy="48" r="7"/><text x="570" y="52" '
            'text-anchor="middle">1</text></g><text x="584" y="52">lint findings</text>'
            "</svg>")
