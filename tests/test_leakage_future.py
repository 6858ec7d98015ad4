"""Leakage guard (a): rows dated at or after a period's start must not change that period's features.

Two stores are compared with the original: one where every source row at or after the cut is deleted,
and one where those rows are perturbed and new future rows are added (new events on every asset,
strokes on top of assets, soaked weather, high-risk vegetation, changed snapshots with a new brand that
sorts first, a new transformer, flipped guard wires and orientations). Features (and the targets of
periods before the cut) of every period up to the cut must be identical.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from gridcrit.data.store import connect
from gridcrit.features.dataset import build_dataset
from gridcrit.features.sample_store import build_sample_store

CUT = "2020-03"  # first period of "the future"
CUT_TS = "2020-03-01"
SNAPSHOT_TABLES = ("trafos", "switches", "redmt", "apoyos")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return build_sample_store(tmp_path_factory.mktemp("leak") / "s.duckdb", n_circuits=4, segments_per_circuit=30,
                              start="2019-01", end="2020-12", event_rate=0.05, seed=11)


def _copy(src, dst):
    shutil.copy(src, dst)
    return dst


def _delete_future(store):
    con = connect(store)
    con.execute(f"DELETE FROM interrupciones WHERE inicio >= TIMESTAMP '{CUT_TS}'")
    for t in ("rayos", "clima", "vegetacion", *SNAPSHOT_TABLES):
        con.execute(f"DELETE FROM {t} WHERE FECHA >= TIMESTAMP '{CUT_TS}'")
    con.close()


def _perturb_future(store):
    con = connect(store)
    ts = f"TIMESTAMP '{CUT_TS}'"
    con.execute(f"UPDATE interrupciones SET SAIFI = SAIFI * 7 + 0.01, SAIDI = SAIDI * 3, cnt_usus = cnt_usus + 5 "
                f"WHERE inicio >= {ts}")
    con.execute(f"""INSERT INTO interrupciones (evento, equipo_ope, tipo_equi_ope, cto_equi_ope, inicio, fin,
                        duracion_h, cnt_usus, SAIFI, SAIDI, tipo_causa)
                    SELECT 900000000 + row_number() OVER (), CODE, 'transformador', FPARENT, {ts} + INTERVAL 3 DAY,
                           {ts} + INTERVAL 4 DAY, 24, 50, 0.5, 12.0, 'NP'
                    FROM (SELECT DISTINCT CODE, FPARENT FROM trafos)""")
    con.execute(f"""INSERT INTO rayos (ID, LATITUD, LONGITUD, TIPO, FECHA)
                    SELECT 800000000 + row_number() OVER (), LATITUD, LONGITUD, 'CG', {ts} + INTERVAL 1 HOUR
                    FROM (SELECT DISTINCT LATITUD, LONGITUD FROM trafos)""")
    con.execute(f"UPDATE rayos SET LONGITUD = LONGITUD + 0.001 WHERE FECHA >= {ts}")
    con.execute(f"UPDATE clima SET precip = precip * 10 + 50, temp = temp + 6 WHERE FECHA >= {ts}")
    con.execute(f"""INSERT INTO vegetacion (FECHA, NIVEL_RIES, CIRCUITO_TRAMO, NODO_1, NODO_2, LONGITUD, LATITUD)
                    SELECT DISTINCT CAST({ts} AS DATE), 'Alto', FPARENT, ELNODE1, ELNODE2, LONGITUD, LATITUD
                    FROM redmt""")
    con.execute(f"UPDATE vegetacion SET NIVEL_RIES = 'Alto' WHERE FECHA >= {ts}")
    con.execute(f"UPDATE trafos SET KVA = KVA * 2, USUARIOS = USUARIOS * 3 + 1, MARCA = 'AAA NUEVA', "
                f"DATE_FAB = DATE '2000-01-01', GRUPO015 = '1' WHERE FECHA >= {ts}")
    con.execute(f"""INSERT INTO trafos (CODE, FPARENT, ELNODE, FECHA, KVA, USUARIOS, MARCA, LONGITUD, LATITUD, MUN)
                    SELECT 'T_NEW', FPARENT, ELNODE, FECHA, 75, 500, '0 FIRST BRAND', LONGITUD, LATITUD, MUN
                    FROM trafos WHERE FECHA >= {ts} QUALIFY row_number() OVER (PARTITION BY FECHA ORDER BY CODE) = 1""")
    con.execute(f"UPDATE redmt SET GUARDACONDUCTOR = CASE WHEN GUARDACONDUCTOR = 'SI' THEN 'NO' ELSE 'SI' END, "
                f"LENGTH = LENGTH * 2, ORDER_ = -ORDER_, "
                f"ELNODE1 = ELNODE2, ELNODE2 = ELNODE1 WHERE FECHA >= {ts}")
    con.execute(f"UPDATE switches SET ASSEMBLY = 'RECONECTADOR', STATE = 'ABIERTO' WHERE FECHA >= {ts}")
    con.execute(f"UPDATE apoyos SET TIERRA_PIE = 'SI', MATERIAL = 'MADERA' WHERE FECHA >= {ts}")
    con.close()


def _compare(orig_store, other_store, level, period="month"):
    a = build_dataset(orig_store, level=level, period=period, end=CUT)
    b = build_dataset(other_store, level=level, period=period, end=CUT)
    assert a.feature_columns == b.feature_columns
    keys = ["asset_id", "period", "period_start", "circuit"]
    fa, fb = (d.frame[keys + d.feature_columns] for d in (a, b))
    assert len(fa) > 0
    pd.testing.assert_frame_equal(fa.reset_index(drop=True), fb.reset_index(drop=True), check_exact=True)
    past = (a.frame["period"] < CUT).to_numpy()
    ya = a.frame.loc[past, ["y_saifi", "y_saidi", "y_count"]].reset_index(drop=True)
    yb = b.frame.loc[(b.frame["period"] < CUT).to_numpy(), ["y_saifi", "y_saidi", "y_count"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(ya, yb, check_exact=True)
    # the future really was different (the test can fail): targets at the cut changed
    at_cut_a = a.frame.loc[a.frame["period"] == CUT, "y_saifi"].sum()
    at_cut_b = b.frame.loc[b.frame["period"] == CUT, "y_saifi"].sum()
    return at_cut_a, at_cut_b


@pytest.mark.parametrize("level", ["transformer", "switch", "segment", "circuit"])
def test_deleting_the_future_changes_no_feature(sample, tmp_path, level):
    other = _copy(sample, tmp_path / "cut.duckdb")
    _delete_future(other)
    a, b = _compare(sample, other, level)
    assert b == 0 and a > 0


@pytest.mark.parametrize("level", ["transformer", "segment", "circuit"])
def test_perturbing_the_future_changes_no_feature(sample, tmp_path, level):
    other = _copy(sample, tmp_path / "perturbed.duckdb")
    _perturb_future(other)
    a, b = _compare(sample, other, level)
    assert a != b


def test_quarterly_periods_too(sample, tmp_path):
    other = _copy(sample, tmp_path / "perturbed_q.duckdb")
    _perturb_future(other)
    a = build_dataset(sample, level="transformer", period="quarter", end="2020-Q1")
    b = build_dataset(other, level="transformer", period="quarter", end="2020-Q1")
    # 2020-Q1 starts before the cut (2020-03), so only periods up to 2019-Q4 are fully in the past
    cols = ["asset_id", "period", *a.feature_columns]
    pd.testing.assert_frame_equal(a.frame[cols], b.frame[cols], check_exact=True)


def test_on_the_twin(tiny_store, tmp_path):
    """The same guard on the synthetic twin (supports, GRUPO015, real hazard model)."""
    cut = _copy(tiny_store, tmp_path / "twin_cut.duckdb")
    _delete_future(cut)
    pert = _copy(tiny_store, tmp_path / "twin_pert.duckdb")
    _perturb_future(pert)
    for other in (cut, pert):
        _compare(tiny_store, other, "transformer")
        _compare(tiny_store, other, "switch")
