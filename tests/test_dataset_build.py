"""The criticality dataset: contract, levels, targets recomputed from raw events, card, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gridcrit.cli import run
from gridcrit.data.store import connect
from gridcrit.errors import NotFoundError, ValidationError
from gridcrit.features.dataset import build_dataset, card_path, read_dataset
from gridcrit.features.sample_store import build_sample_store
from gridcrit.features.targets import RiskBinner


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_sample_store(tmp_path_factory.mktemp("ds") / "s.duckdb", n_circuits=5, segments_per_circuit=30,
                              start="2019-01", end="2020-12", event_rate=0.06, seed=3)


@pytest.fixture(scope="module")
def ds(store):
    return build_dataset(store, level="transformer", period="month")


def test_contract(ds):
    f = ds.frame
    assert list(f.columns[:4]) == ["asset_id", "period", "period_start", "circuit"]
    assert ds.target_columns == ["y_saifi", "y_saidi", "y_count", "y_risk"]
    assert set(ds.feature_groups) == set(ds.feature_columns)
    assert set(ds.feature_groups.values()) == {"asset", "topology", "exposure", "history"}
    # no identifiers or targets among the features
    assert not set(ds.feature_columns) & {"asset_id", "period", "period_start", "circuit", *ds.target_columns}
    assert not f.duplicated(["asset_id", "period"]).any()
    assert f["period"].is_monotonic_increasing
    assert (f[ds.feature_columns].dtypes == np.float32).all()
    assert f["y_risk"].isin([0, 1, 2, 3]).all()
    # the drivers of the hazard model are there under recognisable names
    for col in ("age_years", "guard_wire_feeder", "veg_high_risk_100m", "lightning_density_last_12m",
                "rain_normal_mm", "temp_normal_c", "hist_count_last_12m", "topo_protective_upstream"):
        assert col in ds.feature_columns
    # the card maps the twin's hazard names to the features that carry them (explanations are checked on it)
    drivers = ds.card["drivers"]
    assert {"lightning", "vegetation", "age_heat"} <= set(drivers)
    assert "age_years" in drivers["age_heat"] and "guard_wire_feeder" in drivers["lightning"]
    assert all(c in ds.feature_columns for cols in drivers.values() for c in cols)
    # each card entry has meaning, unit field and time basis; features say they are known at start
    for c in ds.feature_columns:
        entry = ds.card["columns"][c]
        assert entry["meaning"] and entry["time_basis"].startswith(("as of period start", "past"))


def test_first_period_follows_first_snapshot(ds):
    # snapshots start 2019-01-31: January 2019 has no snapshot before its start, February has
    assert ds.frame["period"].iloc[0] == "2019-02"
    assert ds.frame["period"].iloc[-1] == "2020-12"


def test_targets_equal_independent_recomputation(store, ds):
    con = connect(store, read_only=True)
    ev = con.execute("SELECT evento, equipo_ope, inicio, duracion_h, SAIFI, SAIDI FROM interrupciones").df()
    con.close()
    ev["period"] = pd.to_datetime(ev["inicio"]).dt.strftime("%Y-%m")
    sustained = ev["duracion_h"] > 3 / 60 + 1e-9  # momentary rows are MAIFI: no SAIFI/SAIDI target
    ev["SAIFI"] = ev["SAIFI"].where(sustained, 0.0)
    ev["SAIDI"] = ev["SAIDI"].where(sustained, 0.0)
    exp = ev.rename(columns={"equipo_ope": "asset_id"}).groupby(["asset_id", "period"]).agg(y_saifi=("SAIFI", "sum"), y_saidi=("SAIDI", "sum"),
                                                   y_count=("evento", "nunique"))
    f = ds.frame.set_index(["asset_id", "period"])
    got = f[["y_saifi", "y_saidi", "y_count"]]
    joined = got.join(exp, rsuffix="_exp").fillna(0.0)
    for c in ("y_saifi", "y_saidi", "y_count"):
        np.testing.assert_allclose(joined[c], joined[f"{c}_exp"], rtol=1e-9, atol=1e-12)
    # and nothing of the transformers' events is lost: every event is in a row or reported
    tr_events = exp[exp.index.get_level_values(0).str.startswith("T")]
    in_range = tr_events[tr_events.index.get_level_values(1) >= "2019-02"]
    rep = ds.card["report"]
    n_rows_reported = (rep["events_on_unknown_devices"]["event_rows"]
                       + rep["events_on_assets_absent_from_prior_snapshot"]["event_rows"])
    assert got["y_count"].sum() + n_rows_reported >= in_range["y_count"].sum()
    assert got["y_count"].sum() > 0.9 * in_range["y_count"].sum()


def test_history_is_the_shifted_target(ds):
    f = ds.frame.sort_values(["asset_id", "period"])
    prev = f.groupby("asset_id")["y_count"].shift(1)
    prev_label = (pd.PeriodIndex(f["period"], freq="M") - 1).astype(str)
    consecutive = f.groupby("asset_id")["period"].shift(1).to_numpy() == np.asarray(prev_label)
    ok = prev.notna() & consecutive
    np.testing.assert_allclose(f.loc[ok, "hist_count_prev_period"], prev[ok])
    last3 = sum(f.groupby("asset_id")["y_count"].shift(k) for k in (1, 2, 3))
    full = last3.notna()
    np.testing.assert_allclose(f.loc[full, "hist_count_last_3m"], last3[full])


def test_cause_history_counts_past_events_by_recorded_cause(store, ds):
    from gridcrit.features.targets import CAUSE_GROUPS, cause_groups

    con = connect(store, read_only=True)
    ev = con.execute("SELECT DISTINCT evento, equipo_ope, inicio, causa FROM interrupciones").df()
    con.close()
    ev["period"] = pd.to_datetime(ev["inicio"]).dt.strftime("%Y-%m")
    ev["code"] = pd.to_numeric(ev["causa"], errors="coerce")
    f = ds.frame.sort_values(["asset_id", "period"]).reset_index(drop=True)
    assert f["hist_cause_equipment_total"].max() > 0 and f["hist_cause_atmospheric_total"].max() > 0
    known = [c for codes in CAUSE_GROUPS.values() for c in codes]
    for group in cause_groups():
        sel = ev["code"].isin(CAUSE_GROUPS[group]) if group in CAUSE_GROUPS else ~ev["code"].isin(known)
        per = (ev[sel].groupby(["equipo_ope", "period"])["evento"].nunique()
               .rename("n").reset_index().rename(columns={"equipo_ope": "asset_id"}))
        # expected: events of that cause strictly before the row's period (brute force, per row)
        exp = f[["asset_id", "period"]].merge(per, on="asset_id", how="left", suffixes=("", "_ev"))
        exp["n"] = np.where(exp["period_ev"].notna() & (exp["period_ev"] < exp["period"]), exp["n"], 0.0)
        exp = exp.groupby(["asset_id", "period"], sort=True)["n"].sum().reset_index()
        np.testing.assert_allclose(f[f"hist_cause_{group}_total"], exp["n"], err_msg=group)
    # the groups partition the events: their sum is the all-time count (not a column of its own)
    assert "hist_count_total" not in ds.feature_columns
    total = f[[f"hist_cause_{g}_total" for g in cause_groups()]].sum(axis=1)
    per = ev.groupby(["equipo_ope", "period"])["evento"].nunique().rename("n").reset_index()
    exp = f[["asset_id", "period"]].merge(per.rename(columns={"equipo_ope": "asset_id"}), on="asset_id",
                                          how="left", suffixes=("", "_ev"))
    exp["n"] = np.where(exp["period_ev"].notna() & (exp["period_ev"] < exp["period"]), exp["n"], 0.0)
    np.testing.assert_allclose(total, exp.groupby(["asset_id", "period"], sort=True)["n"].sum().to_numpy())
    assert f["hist_cause_other_total"].max() > 0
    # the card says which drivers each recorded cause carries
    assert "hist_cause_atmospheric_total" in ds.card["drivers"]["lightning"]
    assert "hist_cause_animals_total" in ds.card["drivers"]["animals"]
    assert ds.card["columns"]["hist_cause_equipment_total"]["time_basis"] == ds.card["columns"]["hist_saifi_total"]["time_basis"]


@pytest.mark.parametrize("level", ["transformer", "switch", "segment", "circuit"])
@pytest.mark.parametrize("period", ["month", "quarter"])
def test_all_levels_build(store, level, period):
    d = build_dataset(store, level=level, period=period)
    f = d.frame
    assert len(f) > 0 and not f.duplicated(["asset_id", "period"]).any()
    assert set(d.feature_groups.values()) <= {"asset", "topology", "exposure", "history"}
    assert f["y_count"].sum() > 0
    if period == "quarter":
        assert f["period"].str.match(r"^\d{4}-Q[1-4]$").all()
    # every emitted column is documented
    assert set(d.card["columns"]) == set(f.columns)


def test_circuit_targets_sum_events_on_the_circuit(store):
    d = build_dataset(store, level="circuit", period="quarter")
    con = connect(store, read_only=True)
    tot = con.execute("""SELECT sum(SAIFI) FROM interrupciones
                         WHERE duracion_h > 3 / 60 + 1e-9 AND inicio >= (SELECT min(period_start) FROM d.frame)""".replace(
        "(SELECT min(period_start) FROM d.frame)", f"TIMESTAMP '{d.frame['period_start'].min()}'")).fetchall()[0][0]
    con.close()
    assert d.frame["y_saifi"].sum() == pytest.approx(tot, rel=1e-9)


def test_roundtrip_parquet_and_card(ds, tmp_path):
    p = ds.to_parquet(tmp_path / "d.parquet")
    card = json.loads(card_path(p).read_text())
    assert card["level"] == "transformer" and card["risk"]["fit_until"] < ds.frame["period"].max()
    back = read_dataset(p)
    assert back.feature_columns == ds.feature_columns and back.feature_groups == ds.feature_groups
    pd.testing.assert_frame_equal(back.frame, ds.frame, check_dtype=False)


def test_cli_build_and_card(store, tmp_path, capsys):
    out = tmp_path / "c.parquet"
    assert run(["dataset", "build", "--store", str(store), "--level", "switch", "--out", str(out), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["rows"] > 0 and out.exists() and card_path(out).exists()
    assert run(["dataset", "card", str(out), "--json"]) == 0
    assert "y_risk" in json.loads(capsys.readouterr().out)["columns"]
    assert run(["dataset", "build", "--store", str(store), "--level", "pole", "--out", str(out)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nivel desconocido 'pole'" in err[0]  # Spanish by default, one line
    assert run(["dataset", "build", "--store", str(store), "--period", "week", "--out", str(out), "--lang", "en"]) != 0
    assert "unknown period 'week'" in capsys.readouterr().err


def test_risk_binner_zero_inflation():
    y_train = np.array([0, 0, 0, 0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    b = RiskBinner().fit(y_train)
    np.testing.assert_allclose(b.thresholds_, np.quantile([1, 2, 3, 4, 5, 6.0], [1 / 3, 2 / 3]))
    assert b.transform(np.array([0.0, 0.5, 3.0, 5.0, 100.0, np.nan])).tolist() == [0, 1, 2, 3, 3, -1]
    # cut points come from the data given to fit only
    assert not np.allclose(RiskBinner().fit(y_train * 10).thresholds_, b.thresholds_)


def test_bad_input_is_reported(tmp_path, store):
    with pytest.raises(ValidationError, match="unknown period"):
        build_dataset(store, period="week")
    empty = tmp_path / "empty.duckdb"
    connect(empty).close()
    with pytest.raises(NotFoundError, match="trafos is empty"):
        build_dataset(empty)
    # events on a device nobody knows: counted with examples, not silently dropped
    s2 = tmp_path / "s2.duckdb"
    s2.write_bytes(store.read_bytes())
    con = connect(s2)
    con.execute("""INSERT INTO interrupciones (evento, equipo_ope, tipo_equi_ope, inicio, fin, cnt_usus, SAIFI, SAIDI)
                   VALUES (999999, 'T_GHOST', 'transformador', TIMESTAMP '2020-05-03 10:00', TIMESTAMP '2020-05-03 12:00',
                           10, 0.001, 0.002)""")
    con.close()
    rep = build_dataset(s2).card["report"]["events_on_unknown_devices"]
    assert rep["event_rows"] == 1 and rep["examples"] == ["T_GHOST"]


def test_minimal_store_without_exposure_tables(tmp_path):
    """Only assets and events: exposure features are NaN (not invented) and the build still works."""
    import pandas as pd

    store = tmp_path / "min.duckdb"
    con = connect(store)
    months = pd.date_range("2020-01-31", periods=6, freq="ME")
    for i, f in enumerate(months):
        con.execute("""INSERT INTO redmt (CODE, FPARENT, ELNODE1, ELNODE2, ORDER_, LENGTH, FECHA)
                       VALUES ('S1', 'C1', 'N0', 'N1', 1, 100, ?), ('S2', 'C1', 'N1', 'N2', 1, 200, ?)""",
                    [f.date(), f.date()])
        con.execute("""INSERT INTO trafos (CODE, FPARENT, ELNODE, FECHA, USUARIOS, KVA)
                       VALUES ('T1', 'C1', 'N2', ?, ?, 25)""", [f.date(), 10 + i])
    con.execute("""INSERT INTO interrupciones (evento, equipo_ope, tipo_equi_ope, cto_equi_ope, inicio, fin, cnt_usus)
                   VALUES (1, 'T1', 'transformador', 'C1', TIMESTAMP '2020-04-10 08:00', TIMESTAMP '2020-04-10 10:00', 12)""")
    con.close()
    ds = build_dataset(store)
    f = ds.frame
    assert f["period"].tolist() == ["2020-02", "2020-03", "2020-04"]
    assert f["y_count"].tolist() == [0, 0, 1]
    # SAIFI missing in the export: cnt_usus / customers of that month's snapshot (April: 13)
    assert f["y_saifi"].iloc[-1] == pytest.approx(12 / 13)
    assert f["y_saidi"].iloc[-1] == pytest.approx(2 * 12 / 13)
    assert f["topo_depth"].tolist() == [2, 2, 2] and f["topo_path_km"].iloc[0] == pytest.approx(0.3)
    assert f["rain_prev_period_mm"].isna().all() and (f["veg_records_100m"] == 0).all()


def test_unplanned_only_counts_np_events(store, ds):
    con = connect(store, read_only=True)
    n_np = con.execute("""SELECT count(DISTINCT evento) FROM interrupciones
                          WHERE tipo_causa = 'NP' AND equipo_ope LIKE 'T%' AND inicio >= TIMESTAMP '2019-02-01'""").fetchall()[0][0]
    con.close()
    d = build_dataset(store, unplanned_only=True)
    rep = d.card["report"]  # events on transformers not yet in the prior snapshot are counted there
    lost = rep["events_on_unknown_devices"]["event_rows"] + rep["events_on_assets_absent_from_prior_snapshot"]["event_rows"]
    assert d.frame["y_count"].sum() + lost == n_np
    assert d.frame["y_count"].sum() < ds.frame["y_count"].sum()
    assert d.card["params"]["unplanned_only"] is True
