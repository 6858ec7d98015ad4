"""Targets follow the indices' definitions: y_saifi / y_saidi count sustained rows only (momentary rows are
MAIFI), and a period the events only partly cover has no target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridcrit.data.store import connect
from gridcrit.features.dataset import build_dataset
from gridcrit.features.sample_store import build_sample_store
from gridcrit.reliability.indices import MOMENTARY_H, compute_indices


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A small utility in which every third event is momentary (72 s), as breaker reclosings are."""
    path = build_sample_store(tmp_path_factory.mktemp("sus") / "s.duckdb", n_circuits=3, segments_per_circuit=20,
                              start="2019-01", end="2020-06", event_rate=0.08, seed=5)
    con = connect(path)
    con.execute("""UPDATE interrupciones SET duracion_h = 0.02, fin = inicio + INTERVAL 72 SECOND,
                   tipo_duracion = '<= 3 min', SAIDI = 0.02 * SAIDI / duracion_h WHERE evento % 3 = 0""")
    n_mom = con.execute("SELECT count(*) FROM interrupciones WHERE duracion_h <= 0.05").fetchone()[0]
    con.close()
    assert n_mom > 20
    return path


def _events(store) -> pd.DataFrame:
    con = connect(store, read_only=True)
    ev = con.execute("SELECT evento, equipo_ope, cto_equi_ope, inicio, duracion_h, SAIFI, SAIDI "
                     "FROM interrupciones").df()
    con.close()
    ev["period"] = pd.to_datetime(ev["inicio"]).dt.strftime("%Y-%m")
    ev["sustained"] = ev["duracion_h"] > MOMENTARY_H + 1e-9
    return ev


@pytest.mark.parametrize("level", ["transformer", "switch", "circuit"])
def test_saifi_saidi_targets_count_sustained_rows_only(store, level):
    ev = _events(store)
    key = "cto_equi_ope" if level == "circuit" else "equipo_ope"
    sus = ev[ev["sustained"]]
    exp = sus.groupby([key, "period"]).agg(e_saifi=("SAIFI", "sum"), e_saidi=("SAIDI", "sum"))
    exp.index.names = ["asset_id", "period"]
    cnt = ev.groupby([key, "period"])["evento"].nunique().rename("e_count")  # momentary events still count
    cnt.index.names = ["asset_id", "period"]
    every = ev.groupby([key, "period"])["SAIFI"].sum().rename("all_rows_saifi")
    every.index.names = ["asset_id", "period"]
    f = build_dataset(store, level=level, period="month").frame.set_index(["asset_id", "period"])
    j = f[["y_saifi", "y_saidi", "y_count"]].join(exp).join(cnt).join(every).fillna(0.0)
    assert (j["y_count"] > 0).sum() >= 5
    assert (j["all_rows_saifi"] > j["e_saifi"] + 1e-9).any()  # some asset-months do have momentary rows
    np.testing.assert_allclose(j["y_saifi"], j["e_saifi"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(j["y_saidi"], j["e_saidi"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(j["y_count"], j["e_count"])


def test_targets_equal_the_indices_contribution(store):
    """y_saifi of a transformer-month is its SAIFI_contrib in `gridcrit indices` (same rows, same rule; the
    sample store's per-row SAIFI divides by a fixed customer total, the indices by each month's, hence
    the 5 % tolerance)."""
    f = build_dataset(store, level="transformer", period="month").frame
    ind = compute_indices(store, "transformer", "month", only_with_events=True).frame
    j = f.merge(ind, left_on=["asset_id", "period"], right_on=["group", "period"], how="inner")
    only_momentary = (j["momentary_interruptions"] > 0) & (j["customer_interruptions"] == 0)
    assert only_momentary.any() and (j["customer_interruptions"] > 0).any()
    assert ((j["y_saifi"] > 0) == (j["SAIFI_contrib"] > 0)).all()
    np.testing.assert_allclose(j["y_saifi"], j["SAIFI_contrib"], rtol=0.05, atol=1e-12)
    np.testing.assert_allclose(j["y_saidi"], j["SAIDI_contrib"], rtol=0.05, atol=1e-12)


def test_quarter_cut_by_the_end_of_the_events_has_no_target(store, tmp_path):
    """Events up to mid-May: Q2 holds 1.5 of its 3 months, so its sums are not a quarter's targets."""
    cut = tmp_path / "cut.duckdb"
    cut.write_bytes(store.read_bytes())
    con = connect(cut)
    con.execute("DELETE FROM interrupciones WHERE inicio >= TIMESTAMP '2020-05-15'")
    con.close()
    q = build_dataset(cut, level="switch", period="quarter")
    f = q.frame
    assert f["period"].max() == "2020-Q2"  # the row is still there, for forecasting
    assert f.loc[f["period"] == "2020-Q2", ["y_saifi", "y_saidi", "y_count"]].isna().all().all()
    assert (f.loc[f["period"] == "2020-Q2", "y_risk"] == -1).all()
    assert np.isfinite(f.loc[f["period"] == "2020-Q1", "y_saifi"]).all()
    assert q.card["report"]["incomplete_last_period"] == "2020-Q2"
    # a quarter whose last month has events is complete
    full = build_dataset(store, level="switch", period="quarter")
    assert np.isfinite(full.frame.loc[full.frame["period"] == "2020-Q2", "y_saifi"]).all()
    assert "incomplete_last_period" not in full.card["report"]
    # months: May has events, so it keeps its target
    m = build_dataset(cut, level="switch", period="month").frame
    assert np.isfinite(m.loc[m["period"] == "2020-05", "y_saifi"]).all()


def test_cli_unplanned_spellings(store, tmp_path, capsys):
    import json

    from gridcrit.cli import run

    rows = []
    for opt in ("--unplanned-only", "--unplanned"):
        out = tmp_path / f"d{opt}.parquet"
        assert run(["dataset", "build", "--store", str(store), "--level", "circuit", opt, "--out", str(out),
                    "--json"]) == 0
        rows.append(json.loads(capsys.readouterr().out)["rows"])
    assert rows[0] == rows[1] > 0
