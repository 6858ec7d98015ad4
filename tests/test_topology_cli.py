"""`gridcrit topology check|trace` on a hand-built store."""

from __future__ import annotations

import json

from gridcrit.cli import run
from test_indices_core import build_store


def test_topology_check_and_trace(tmp_path, capsys):
    store = build_store(tmp_path / "s.duckdb")
    assert run(["topology", "check", "--store", str(store), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    kinds = {p["kind"]: p for p in doc["report"]["problems"]}
    assert kinds["loops"]["count"] == 1 and kinds["islands"]["count"] == 1
    assert kinds["transformers_unknown_node"]["examples"] == ["T9→NX"]
    assert {c["circuit"] for c in doc["circuits"]} == {"C1", "C2"}

    assert run(["topology", "check", "--store", str(store), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "NOT radial" in out and "loops: 1" in out

    assert run(["topology", "trace", "R1", "--store", str(store), "--json"]) == 0
    tr = json.loads(capsys.readouterr().out)
    assert sorted(tr["segments"]) == ["S2", "S3"] and tr["customers"] == 17 and tr["protective_upstream"] == ["C1"]

    assert run(["topology", "trace", "R1", "--store", str(store)]) == 0
    assert "protecciones aguas arriba: C1" in capsys.readouterr().out
    assert run(["topology", "trace", "NOPE", "--store", str(store)]) == 3
    assert "NOPE" in capsys.readouterr().err
    assert run(["topology", "check", "--store", str(tmp_path / "missing.duckdb")]) != 0
