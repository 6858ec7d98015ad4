"""The route of an answer as JSON and as a self-contained HTML graph (no scripts, no network).

    question ─► route (regulation | data) ─► tool (retrieve / SQL) ─► backend ─► citation check ─► answer

Each step is a node ``{id, kind, label, detail}``; edges link consecutive steps (and each retrieved
passage to the backend). ``to_html`` draws the nodes as an SVG column with the passages beside it.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Trace:
    nodes: list[dict] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)
    t0: float = field(default_factory=time.perf_counter)

    def step(self, kind: str, label: str, detail: dict | None = None, after: str | None = None) -> str:
        """Add a node (linked from ``after`` or from the previous main-line node); returns its id."""
        nid = f"n{len(self.nodes)}"
        self.nodes.append({"id": nid, "kind": kind, "label": label, "detail": detail or {},
                           "t_ms": round(1000 * (time.perf_counter() - self.t0), 1)})
        prev = after
        if prev is None:
            main = [n for n in self.nodes[:-1] if n["kind"] != "passage"]
            prev = main[-1]["id"] if main else None
        if prev:
            self.edges.append((prev, nid))
        return nid

    def to_dict(self) -> dict:
        return {"nodes": self.nodes, "edges": [list(e) for e in self.edges]}

    def to_json(self) -> str:
        from gridcrit.cli.common import to_json

        return to_json(self.to_dict())

    def to_html(self, title: str = "gridcrit ask — trace") -> str:
        main = [n for n in self.nodes if n["kind"] != "passage"]
        side = [n for n in self.nodes if n["kind"] == "passage"]
        W, BW, BH, GAP = 980, 420, 54, 30
        pos: dict[str, tuple[int, int]] = {}
        for i, n in enumerate(main):
            pos[n["id"]] = (20, 20 + i * (BH + GAP))
        for j, n in enumerate(side):
            pos[n["id"]] = (W - BW - 20, 20 + j * (BH + 10))
        H = max([y for _, y in pos.values()] + [0]) + BH + 40
        colors = {"question": "#dbeafe", "route": "#fef3c7", "retrieve": "#e0e7ff", "sql": "#fee2e2",
                  "backend": "#dcfce7", "check": "#f3e8ff", "answer": "#d1fae5", "passage": "#f1f5f9",
                  "error": "#fecaca"}
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
                 '<defs><marker id="a" markerWidth="8" markerHeight="8" refX="8" refY="4" orient="auto">'
                 '<path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>']
        for a, b in self.edges:
            if a in pos and b in pos:
                (x1, y1), (x2, y2) = pos[a], pos[b]
                if x1 == x2:
                    parts.append(f'<line x1="{x1 + BW // 2}" y1="{y1 + BH}" x2="{x2 + BW // 2}" y2="{y2}" '
                                 'stroke="#555" marker-end="url(#a)"/>')
                else:
                    sx, ex = (x1 + BW, x2) if x1 < x2 else (x1, x2 + BW)
                    parts.append(f'<line x1="{sx}" y1="{y1 + BH // 2}" x2="{ex}" y2="{y2 + BH // 2}" '
                                 'stroke="#999" marker-end="url(#a)"/>')
        for n in self.nodes:
            x, y = pos[n["id"]]
            label = html.escape(n["label"][:70])
            sub = html.escape(f'{n["kind"]} · {n["t_ms"]} ms')
            tip = html.escape(json.dumps(n["detail"], ensure_ascii=False, default=str)[:1500])
            parts.append(f'<g><title>{tip}</title><rect x="{x}" y="{y}" width="{BW}" height="{BH}" rx="8" '
                         f'fill="{colors.get(n["kind"], "#eee")}" stroke="#888"/>'
                         f'<text x="{x + 10}" y="{y + 22}" font-weight="bold">{label}</text>'
                         f'<text x="{x + 10}" y="{y + 42}" fill="#555">{sub}</text></g>')
        parts.append("</svg>")
        details = "".join(
            f"<details><summary>{html.escape(n['kind'])}: {html.escape(n['label'][:120])}</summary><pre>"
            f"{html.escape(json.dumps(n['detail'], ensure_ascii=False, indent=1, default=str))}</pre></details>"
            for n in self.nodes
        )
        return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
                f"<body><h2>{html.escape(title)}</h2>{''.join(parts)}<h3>Detalle / detail</h3>{details}</body></html>")

    def write_html(self, path: str | Path, title: str = "gridcrit ask — trace") -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_html(title), encoding="utf-8")
        return path
