"""`gridcrit demo`: synth (tiny) -> ingest -> summary, as JSON; the summary agrees with the store."""

from __future__ import annotations

import json

import pytest

from gridcrit.cli import run
from gridcrit.data.store import connect


def test_demo_tiny_json(tmp_path, capsys):
    pytest.importorskip("gridcrit.data.synth")
    out = tmp_path / "demo"
    assert run(["demo", "--out", str(out), "--scale", "tiny", "--seed", "0", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    store = out / "gridcrit.duckdb"
    assert s["store"] == str(store) and s["rows_added"] > 0
    assert set(s["tables"]) >= {"interrupciones", "redmt", "trafos", "switches", "apoyos", "rayos", "clima"}
    con = connect(store, read_only=True)
    n_ev, saifi, saidi = con.execute("SELECT count(*), sum(SAIFI), sum(SAIDI) FROM interrupciones").fetchone()
    con.close()
    assert s["tables"]["interrupciones"]["rows"] == n_ev > 0
    # the per-year sums partition all events: they add up to the store's totals
    assert sum(y["SAIFI"] for y in s["by_year"]) == pytest.approx(saifi, rel=1e-4)
    assert sum(y["SAIDI"] for y in s["by_year"]) == pytest.approx(saidi, rel=1e-4)
    assert 0 < len(s["by_circuit"]) <= 10
    saidis = [c["SAIDI"] for c in s["by_circuit"]]
    assert saidis == sorted(saidis, reverse=True)
