"""`gridcrit demo`: synth (tiny) -> ingest -> summary, as JSON; the summary agrees with the store."""

from __future__ import annotations

import json

import pytest

from gridcrit.cli import run
from gridcrit.data.store import connect
from gridcrit.reliability.indices import compute_indices


def test_demo_tiny_json(tmp_path, capsys):
    pytest.importorskip("gridcrit.data.synth")
    out = tmp_path / "demo"
    assert run(["demo", "--out", str(out), "--scale", "tiny", "--seed", "0", "--steps", "data", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    store = out / "gridcrit.duckdb"
    assert s["store"] == str(store) and s["rows_added"] > 0
    assert set(s["tables"]) >= {"interrupciones", "redmt", "trafos", "switches", "apoyos", "rayos", "clima"}
    con = connect(store, read_only=True)
    n_ev, saifi, saidi = con.execute("SELECT count(*), sum(SAIFI), sum(SAIDI) FROM interrupciones").fetchone()
    con.close()
    assert s["tables"]["interrupciones"]["rows"] == n_ev > 0
    # the yearly figures are `gridcrit indices`' own (sustained rows in SAIFI/SAIDI, momentary in MAIFI) ...
    ix = compute_indices(store, by="system", period="year").frame.set_index("period")
    for y in s["by_year"]:
        row = ix.loc[str(y["year"])]
        assert (y["SAIFI"], y["SAIDI"], y["MAIFI"]) == pytest.approx((row.SAIFI, row.SAIDI, row.MAIFI), rel=1e-5)
    # ... so SAIFI + MAIFI is the export's per-row SAIFI summed (SAIDI: the sustained rows' part of it)
    assert sum(y["SAIFI"] + y["MAIFI"] for y in s["by_year"]) == pytest.approx(saifi, rel=1e-3)
    assert 0.95 * saidi <= sum(y["SAIDI"] for y in s["by_year"]) <= saidi * (1 + 1e-6)
    # each circuit's share is its contribution to the system index: the shares add up to it
    cf = compute_indices(store, by="circuit", period="year").frame
    top = s["by_circuit"][0]
    assert top["SAIDI"] == pytest.approx(cf.loc[cf["group"] == top["circuit"], "SAIDI_contrib"].sum(), rel=1e-5)
    assert 0 < len(s["by_circuit"]) <= 10
    saidis = [c["SAIDI"] for c in s["by_circuit"]]
    assert saidis == sorted(saidis, reverse=True)
