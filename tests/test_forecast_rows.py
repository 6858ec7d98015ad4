"""The next period's rows built alone (``build_dataset(..., only_periods=[nxt])``) equal that period's rows
of the full build, and ``predict(period="next")`` builds only them.

Why a whole-frame comparison: many features depend on where the dataset starts or on periods other than
the one built (sums since the first period, windows reaching back, category codes numbered by first
appearance, each asset's earliest coordinates, the snapshot a network structure is traced from, the
risk cut points). ``assert_frame_equal(check_exact=True)`` checks every column, dtype and value at once.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gridcrit.data.store import connect
from gridcrit.errors import ValidationError
from gridcrit.features import dataset as dataset_mod
from gridcrit.features.dataset import CriticalityDataset, build_dataset
from gridcrit.features.periods import parse_period, period_label
from gridcrit.registry.predict import _last_event_label

LEVELS = ("transformer", "switch", "segment", "circuit")


def next_label(store: Path, period: str) -> str:
    """The period after the last event: the one ``predict(period="next")`` forecasts."""
    last, _ = _last_event_label(store, period)
    return str(period_label(parse_period(last, period) + 1, period)[0])


def assert_rows_equal(store: Path, level: str, period: str, only: list[str], end: str) -> pd.DataFrame:
    """Full build up to ``end``, then the rows of ``only``; versus the rows of ``only`` built alone."""
    full = build_dataset(store, level=level, period=period, end=end)
    fast = build_dataset(store, level=level, period=period, end=end, only_periods=only)
    want = full.frame[full.frame["period"].isin(only).to_numpy()].reset_index(drop=True)
    assert len(want) > 0
    pd.testing.assert_frame_equal(fast.frame, want, check_exact=True)
    assert fast.feature_columns == full.feature_columns
    assert fast.feature_groups == full.feature_groups
    assert fast.card["only_periods"] == sorted(only)
    return fast.frame


@pytest.fixture(scope="module")
def changed_store(tiny_store, tmp_path_factory) -> Path:
    """The tiny twin with a past that differs from the present where a build of the last period alone
    would be tempted to read the present:

    * the last snapshot moves 30 transformers, 30 switches and every segment ~1 km east (features use
      each asset's *earliest* coordinates);
    * a transformer brand and a conductor seen only in the first three snapshots, a brand, a conductor
      and a switch kind that appear half-way (their names sort first), a transformer that appears
      half-way (its code sorts first) and one gone from the last snapshot: codes by first appearance
      and the asset order of the rows are those of every period, not of the last snapshot's values;
    * ten segments whose end nodes were renumbered after the third snapshot (vegetation records name a
      segment by its nodes at its earliest snapshot);
    * a second feeder of one node (a loop the tracer cuts, keeping the feeder stored first), one middle
      network snapshot with a segment 100 m longer (the structure goes A, B, A), and the last
      snapshot's segments stored in reverse order: the same structure A, traced from its first
      snapshot, where the loop's other feeder comes first.
    """
    store = tmp_path_factory.mktemp("forecast_changed") / "g.duckdb"
    shutil.copy(tiny_store, store)
    last = "(SELECT max(FECHA) FROM {t})"
    early = "(SELECT DISTINCT FECHA FROM {t} ORDER BY FECHA LIMIT 1 OFFSET 2)"
    middle = "(SELECT DISTINCT FECHA FROM {t} ORDER BY FECHA LIMIT 1 OFFSET 30)"
    con = connect(store)
    try:
        for t in ("trafos", "switches"):
            con.execute(f"""UPDATE {t} SET LONGITUD = LONGITUD + 0.01 WHERE FECHA = {last.format(t=t)}
                            AND CODE IN (SELECT DISTINCT CODE FROM {t} ORDER BY CODE LIMIT 30)""")
        con.execute(f"UPDATE redmt SET LONGITUD = LONGITUD + 0.01, LONGITUD2 = LONGITUD2 + 0.01 "
                    f"WHERE FECHA = {last.format(t='redmt')}")
        for t, col in (("trafos", "MARCA"), ("redmt", "CONDUCTOR"), ("switches", "ASSEMBLY")):
            if t != "switches":
                con.execute(f"""UPDATE {t} SET {col} = 'SOLO EN LOS PRIMEROS CORTES'
                                WHERE FECHA <= {early.format(t=t)} AND CODE IN
                                (SELECT DISTINCT CODE FROM {t} ORDER BY CODE DESC LIMIT 5)""")
            con.execute(f"""UPDATE {t} SET {col} = 'AAA NUEVO' WHERE FECHA >= {middle.format(t=t)} AND CODE IN
                            (SELECT DISTINCT CODE FROM {t} ORDER BY CODE DESC LIMIT 5 OFFSET 10)""")
        con.execute(f"""DELETE FROM trafos WHERE FECHA = {last.format(t='trafos')}
                        AND CODE = (SELECT min(CODE) FROM trafos)""")
        con.execute(f"""INSERT INTO trafos SELECT * REPLACE ('0-NUEVO' AS CODE) FROM trafos
                        WHERE FECHA >= {middle.format(t='trafos')}
                        AND CODE = (SELECT max(CODE) FROM trafos)""")
        con.execute(f"""UPDATE redmt SET ELNODE1 = ELNODE1 || '-ANTES', ELNODE2 = ELNODE2 || '-ANTES'
                        WHERE FECHA <= {early.format(t='redmt')} AND CODE IN (
                            SELECT DISTINCT r.CODE FROM redmt r JOIN vegetacion v ON v.NODO_1 = r.ELNODE1
                            AND v.NODO_2 = r.ELNODE2 ORDER BY r.CODE LIMIT 10)""")
        # the loop: the first segment's upstream node also feeds the end node of its circuit's 20th
        con.execute("""INSERT INTO redmt SELECT r.* REPLACE ('MTZZLAZO' AS CODE, f.n1 AS ELNODE1, 1 AS ORDER_)
                       FROM redmt r JOIN (SELECT FECHA AS f_fecha, ELNODE1 AS n1 FROM redmt
                                          WHERE CODE = (SELECT min(CODE) FROM redmt)) f ON f.f_fecha = r.FECHA
                       WHERE r.CODE = (SELECT CODE FROM redmt
                                       WHERE FPARENT = (SELECT FPARENT FROM redmt ORDER BY CODE LIMIT 1)
                                       GROUP BY CODE ORDER BY CODE LIMIT 1 OFFSET 20)""")
        con.execute(f"""UPDATE redmt SET LENGTH = LENGTH + 100 WHERE FECHA = {middle.format(t='redmt')}
                        AND CODE = (SELECT min(CODE) FROM redmt)""")
        con.execute(f"CREATE TEMP TABLE last_seg AS SELECT * FROM redmt "
                    f"WHERE FECHA = {last.format(t='redmt')} ORDER BY CODE DESC")
        con.execute("DELETE FROM redmt WHERE FECHA = (SELECT max(FECHA) FROM last_seg)")
        con.execute("INSERT INTO redmt SELECT * FROM last_seg")
    finally:
        con.close()
    return store


@pytest.mark.parametrize("period", ["month", "quarter"])
@pytest.mark.parametrize("level", LEVELS)
def test_next_period_rows_equal_the_full_build(tiny_store, level, period):
    nxt = next_label(tiny_store, period)
    frame = assert_rows_equal(tiny_store, level, period, [nxt], end=nxt)
    # the forecast rows: no targets yet, risk class -1
    assert frame[["y_saifi", "y_saidi", "y_count"]].isna().all().all()
    assert (frame["y_risk"] == -1).all() and frame["y_risk"].dtype == np.int8


@pytest.mark.parametrize("period", ["month", "quarter"])
@pytest.mark.parametrize("level", LEVELS)
def test_rows_equal_where_the_past_differs_from_the_present(changed_store, level, period):
    nxt = next_label(changed_store, period)
    assert_rows_equal(changed_store, level, period, [nxt], end=nxt)


def test_the_changes_do_reach_the_features(changed_store, tiny_store):
    """The changed store really differs where it should (else the test above proves little): codes shift,
    the moved transformers keep the exposure of their earliest position, the renumbered segments lose
    the vegetation records that name their present nodes, and the network has a loop."""
    nxt = next_label(tiny_store, "month")

    def rows(store: Path, level: str) -> CriticalityDataset:
        return build_dataset(store, level=level, period="month", end=nxt, only_periods=[nxt])

    a, changed = rows(tiny_store, "transformer").frame, rows(changed_store, "transformer")
    b = changed.frame
    # one transformer gone, one new: last in the rows (asset order = first appearance), though its
    # code sorts first
    assert len(b) == len(a) and b["asset_id"].iloc[-1] == "0-NUEVO"
    assert changed.card["report"]["topology"]["problems"]["nodes_with_several_feeders"] >= 1  # the loop
    a = a[a["asset_id"].isin(b["asset_id"])].reset_index(drop=True)
    b = b.set_index("asset_id").loc[a["asset_id"]].reset_index()
    assert (a["brand_code"] != b["brand_code"]).any()  # brands first seen at other times: codes shift
    moved = a["asset_id"].isin(a["asset_id"].sort_values().head(29))
    for c in ("veg_records_100m", "supports_100m", "lightning_density_last_12m"):
        np.testing.assert_array_equal(a.loc[moved, c], b.loc[moved, c])
    sa, sb = rows(tiny_store, "segment").frame, rows(changed_store, "segment").frame
    on_seg = "veg_records_on_segment"
    assert sb[on_seg].sum() < sa[on_seg].sum()


@pytest.mark.parametrize(("level", "period"), [("transformer", "month"), ("circuit", "quarter")])
def test_periods_with_targets_get_the_full_builds_risk_class(tiny_store, level, period):
    """Rows of observed periods (targets, risk classes from cut points fitted on the full grid's training
    periods) alongside the forecast period, and a default ``end`` (the last event period)."""
    nxt = next_label(tiny_store, period)
    full = build_dataset(tiny_store, level=level, period=period)
    per = sorted(full.frame["period"].unique())
    frame = assert_rows_equal(tiny_store, level, period, [per[1], per[len(per) // 2], nxt], end=nxt)
    assert frame["y_risk"].isin([0, 1, 2, 3]).sum() > 0
    fast = build_dataset(tiny_store, level=level, period=period, only_periods=per[-1])
    want = full.frame[full.frame["period"] == per[-1]].reset_index(drop=True)
    pd.testing.assert_frame_equal(fast.frame, want, check_exact=True)
    assert fast.card["risk"]["thresholds"] == full.card["risk"]["thresholds"]


def test_a_period_outside_the_dataset_is_an_error(tiny_store):
    nxt = next_label(tiny_store, "month")
    with pytest.raises(ValidationError, match="not in the dataset"):
        build_dataset(tiny_store, level="transformer", period="month", only_periods=[nxt])  # end: last event
    with pytest.raises(ValidationError, match="not in the dataset"):
        build_dataset(tiny_store, level="transformer", period="month", end=nxt, only_periods=["2010-01"])
    with pytest.raises(ValidationError, match="empty"):
        build_dataset(tiny_store, level="transformer", period="month", end=nxt, only_periods=[])


@pytest.fixture(scope="module")
def trained(tiny_store, tmp_path_factory) -> tuple[Path, str]:
    from gridcrit.registry.native import NativeGBDT
    from gridcrit.registry.retrain import train_and_register

    store = tmp_path_factory.mktemp("forecast_trained") / "g.duckdb"
    shutil.copy(tiny_store, store)
    v = train_and_register(store, NativeGBDT(n_estimators=20, max_depth=3), name="xgboost", task="regression",
                           target="saifi")
    return store, v


def test_predict_next_builds_only_the_next_period(trained, monkeypatch):
    """``predict(period="next")`` builds the forecast period's rows alone (no earlier period), and ranks
    exactly as before, when it rebuilt the whole dataset up to that period."""
    from gridcrit.registry.predict import predict

    store, v = trained
    nxt = next_label(store, "month")
    real = dataset_mod.build_dataset
    calls: list[tuple[object, list[str]]] = []

    def spy(*args: Any, **kwargs: Any) -> CriticalityDataset:
        ds = real(*args, **kwargs)
        calls.append((kwargs.get("only_periods"), sorted(ds.frame["period"].unique())))
        return ds

    monkeypatch.setattr(dataset_mod, "build_dataset", spy)
    new = predict(store, period="next")
    assert calls == [([nxt], [nxt])]  # one build, of the forecast period's rows only
    assert new.period == nxt and new.models == {"saifi": v}

    def whole(s: Path, level: str, period: str, end: str | None = None) -> CriticalityDataset:
        # the previous way: every period up to ``end``
        return real(s, level=level, period=period, end=end)

    old = predict(store, period="next", dataset_fn=whole)
    assert old.period == nxt
    pd.testing.assert_frame_equal(new.frame, old.frame, check_exact=True)  # ranks, predictions, drivers
    assert new.frame["asset_id"].tolist() == old.frame["asset_id"].tolist()
