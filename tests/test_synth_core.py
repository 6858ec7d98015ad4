"""Synthetic twin: determinism, schema conformity, truth files, windows and hazard multipliers."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from gridcrit.data.schema import LAT_RANGE, LON_RANGE, TABLES
from gridcrit.data.synth import HAZARD_NAMES, SCALES, synthesize
from gridcrit.errors import ValidationError

TABLE_FILES = {"redmt": "parquet", "trafos": "parquet", "switches": "parquet", "apoyos": "parquet",
               "rayos": "parquet", "interrupciones": "csv", "vegetacion": "csv", "clima": "csv"}


def read(twin, table: str) -> pd.DataFrame:
    if TABLE_FILES[table] == "parquet":
        return pq.read_table(twin / f"{table}.parquet").to_pandas()
    return pd.read_csv(twin / f"{table}.csv", dtype={"causa": str, "tipo_elemento": str},
                       keep_default_na=False, na_values=["", "-", "XXX"])


def test_scales_documented():
    assert set(SCALES) == {"tiny", "small", "chec", "10x"}
    assert SCALES["chec"].n_circuits == 219


def test_same_seed_byte_identical(tiny_twin, tmp_path):
    synthesize(tmp_path, scale="tiny", seed=0)
    names = sorted(p.name for p in tiny_twin.iterdir())
    assert names == sorted(p.name for p in tmp_path.iterdir())
    for name in names:
        assert (tiny_twin / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_other_seed_differs(tiny_twin, tmp_path):
    synthesize(tmp_path, scale="tiny", seed=1, start="2019-01", end="2019-03")
    a = read(tiny_twin, "redmt")
    b = read(tmp_path, "redmt")
    assert not np.array_equal(a["LENGTH"].to_numpy()[:50], b["LENGTH"].to_numpy()[:50])


@pytest.mark.parametrize("table", list(TABLE_FILES))
def test_files_conform_to_schema(tiny_twin, table):
    spec = TABLES[table]
    df = read(tiny_twin, table)
    assert len(df) > 0
    assert set(df.columns) <= set(spec.columns), set(df.columns) - set(spec.columns)
    assert set(spec.required) <= set(df.columns)
    assert set(spec.signature) <= set(df.columns)
    if spec.key:
        assert not df.duplicated(list(spec.key)).any(), f"duplicate keys in {table}"
    for c in spec.non_negative:
        if c in df:
            assert (df[c].dropna() >= 0).all(), f"{table}.{c} negative"
    if spec.lon_lat:
        lon, lat = spec.lon_lat
        assert df[lon].between(*LON_RANGE).all() and df[lat].between(*LAT_RANGE).all()
    if table == "interrupciones":
        ini, fin = pd.to_datetime(df["inicio"]), pd.to_datetime(df["fin"])
        assert (ini <= fin).all()
        hours = (fin - ini).dt.total_seconds() / 3600
        assert np.allclose(hours, df["duracion_h"], atol=1e-6)
        assert set(df["tipo_equi_ope"]) <= {"interruptor", "transformador", "tramo de linea"}
        assert set(df["tipo_duracion"]) <= {"> 3 min", "<= 3 min"}
        assert ((df["duracion_h"] > 0.05) == (df["tipo_duracion"] == "> 3 min")).all()
        start = ini.groupby(df["evento"]).transform("min")  # periodo = month the event started
        assert (df["periodo"] == start.dt.year * 100 + start.dt.month).all()
        assert df["causa"].dropna().str.fullmatch(r"\d+\.0").all()


def test_asset_snapshots_monthly_and_codes(tiny_twin):
    red = read(tiny_twin, "redmt")
    assert red["FECHA"].nunique() == 66  # 2019-01 .. 2024-06
    per_month = red.groupby("FECHA")["CODE"].nunique()
    assert per_month.nunique() == 1
    assert set(red["ORDER_"]) == {1, -1}  # some segments are stored reversed
    assert red["FPARENT"].str.fullmatch(r"[A-Z]{3}(23|30|40)L\d{2,3}").all()
    sw = read(tiny_twin, "switches")
    assert set(sw["ASSEMBLY"]) <= {"INTERRUPTOR", "RECONECTADOR", "CORTACIRCUITO", "SECCIONADOR"}
    br = sw[sw["ASSEMBLY"] == "INTERRUPTOR"].drop_duplicates("CODE")
    assert (br["CODE"] == br["FPARENT"]).all() and set(br["CODE"]) == set(red["FPARENT"])
    assert set(sw["LINESECTIO"]) <= set(red["CODE"])
    tr = read(tiny_twin, "trafos")
    nodes = set(red["ELNODE1"]) | set(red["ELNODE2"])
    assert set(tr["ELNODE"]) <= nodes
    total = tr.groupby("FECHA")["USUARIOS"].sum()
    assert total.is_monotonic_increasing and total.iloc[-1] > total.iloc[0]
    veg = read(tiny_twin, "vegetacion")
    assert set(veg["CIRCUITO_TRAMO"]) <= set(red["FPARENT"])
    assert set(veg["NIVEL_RIES"]) <= {"Alto", "Medio", "Bajo", "No aplica", "Inminente"}
    pairs = set(zip(red["ELNODE1"], red["ELNODE2"], strict=True))
    assert all(p in pairs for p in zip(veg["NODO_1"], veg["NODO_2"], strict=True))
    ray = read(tiny_twin, "rayos")
    assert set(ray["CODE"]) <= set(red["CODE"]) and (ray["DISTANCIA_A_NODO"] >= 0).all()
    clima = read(tiny_twin, "clima")
    months = pd.to_datetime(clima["FECHA"]).dt.month
    wet = clima[months.isin([4, 5, 10, 11])]["precip"].mean()
    dry = clima[months.isin([1, 7, 8])]["precip"].mean()
    assert wet > 1.3 * dry  # two rainy seasons


def test_saifi_saidi_formula(tiny_twin):
    ev = read(tiny_twin, "interrupciones")
    tr = read(tiny_twin, "trafos")
    n_total = tr.groupby(pd.to_datetime(tr["FECHA"]).dt.strftime("%Y%m").astype(int))["USUARIOS"].sum()
    n = ev["periodo"].map(n_total)
    assert n.notna().all()
    assert np.allclose(ev["SAIFI"], ev["cnt_usus"] / n, rtol=1e-12, atol=0)
    assert np.allclose(ev["SAIDI"], ev["duracion_h"] * ev["cnt_usus"] / n, rtol=1e-12, atol=0)


def test_truth_files(tiny_twin):
    truth = json.loads((tiny_twin / "truth.json").read_text(encoding="utf-8"))
    assert set(truth["drivers"]) == set(HAZARD_NAMES)
    assert truth["hazards"] == dict.fromkeys(HAZARD_NAMES, 1.0)
    for name, d in truth["drivers"].items():
        for comp in d["components"]:
            assert comp["acts_through"] and comp["cause_mix"], name
            for ref in re.findall(r"\b([a-z]+)\.([A-Z_0-9]+|[a-z_]+)\b", " ".join(comp["acts_through"])):
                assert ref[0] in TABLES and ref[1] in TABLES[ref[0]].columns, ref
    te = pd.read_csv(tiny_twin / "truth_events.csv")
    ev = read(tiny_twin, "interrupciones")
    assert set(te["evento"]) == set(ev["evento"]) and te["evento"].is_unique
    assert set(te["driver"]) <= {*HAZARD_NAMES, "planned", "substation"}
    assert truth["events_by_driver"] == te["driver"].value_counts().to_dict()


def test_later_window_continues_same_utility(tiny_twin, tmp_path):
    later = tmp_path / "later"
    synthesize(later, scale="tiny", seed=0, start="2024-01", end="2024-06", hazards={"vegetation": 2.0})
    for table in ("redmt", "trafos", "switches", "apoyos"):
        a = read(tiny_twin, table)
        b = read(later, table)
        a = a[pd.to_datetime(a["FECHA"]) >= "2024-01-01"].reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b.reset_index(drop=True), check_categorical=False)
    ray_a = read(tiny_twin, "rayos")
    ray_b = read(later, "rayos")
    pd.testing.assert_frame_equal(ray_a[ray_a["FECHA"] >= "2024-01-01"].reset_index(drop=True), ray_b,
                                  check_categorical=False)
    assert json.loads((later / "truth.json").read_text())["hazards"]["vegetation"] == 2.0
    # same window with the default hazards reproduces the long run's events exactly
    same = tmp_path / "same"
    synthesize(same, scale="tiny", seed=0, start="2024-01", end="2024-06")
    ev_a = read(tiny_twin, "interrupciones")
    ev_a = ev_a[ev_a["periodo"] >= 202401].reset_index(drop=True)
    pd.testing.assert_frame_equal(ev_a, read(same, "interrupciones"))


def test_hazard_multiplier_changes_driver_rate(tmp_path):
    counts = {}
    for h in (1.0, 5.0):
        out = tmp_path / f"h{h}"
        synthesize(out, scale="tiny", seed=3, start="2020-01", end="2021-12", hazards={"vegetation": h})
        te = pd.read_csv(out / "truth_events.csv")
        counts[h] = int((te["driver"] == "vegetation").sum())
    assert counts[5.0] > 2.5 * max(counts[1.0], 1)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"scale": "huge"}, "scale"), ({"start": "2019-13"}, "start"), ({"start": "2020-01", "end": "2019-01"}, "before"),
     ({"hazards": {"wind": 2}}, "unknown driver"), ({"hazards": {"vegetation": -1}}, "vegetation"),
     ({"snapshots": "daily"}, "snapshots")],
)
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValidationError, match=match):
        synthesize(tmp_path, **kwargs)


def test_snapshot_modes(tmp_path):
    res = synthesize(tmp_path, scale="tiny", seed=0, start="2023-11", end="2024-04", snapshots="quarterly")
    fechas = sorted(set(read(tmp_path, "trafos")["FECHA"].astype(str)))
    assert fechas == ["2023-12-31", "2024-03-31", "2024-04-30"]
    assert res.rows["trafos"] == 3 * res.assets["transformers"]


def test_twin_passes_ingest_validation(tiny_twin, tiny_store):
    """The data stage's ingest accepts every file of the twin whole (no row rejected or lost)."""
    from gridcrit.data.store import connect, table_counts

    con = connect(tiny_store, read_only=True)
    try:
        counts = table_counts(con)
    finally:
        con.close()
    for table in TABLE_FILES:
        assert counts[table] == len(read(tiny_twin, table)), table


def test_failure_leaves_no_partial_tables(tmp_path, monkeypatch):
    import gridcrit.data.synth.events as events

    original = events.EventModel.month
    calls = {"n": 0}

    def failing(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return original(self, *a, **k)

    monkeypatch.setattr(events.EventModel, "month", failing)
    with pytest.raises(RuntimeError):
        synthesize(tmp_path, scale="tiny", seed=0, start="2020-01", end="2020-06")
    assert list(tmp_path.iterdir()) == []
