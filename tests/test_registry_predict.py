"""predict: several champions of one level/period in one table; classifiers; drivers; errors."""

from __future__ import annotations

import numpy as np
import pytest

from _registry_fakes import fake_dataset, fake_ingest, make_rows, write_export
from gridcrit.errors import NotFoundError, ValidationError
from gridcrit.registry.native import NativeGBDT
from gridcrit.registry.predict import predict
from gridcrit.registry.registry import Registry
from gridcrit.registry.retrain import train_and_register


@pytest.fixture()
def store(tmp_path):
    s = tmp_path / "g.duckdb"
    fake_ingest([write_export(make_rows("2019-01", "2019-12"), tmp_path / "base")], s)
    return s


def test_champions_of_all_targets_in_one_table(store):
    vs = train_and_register(store, NativeGBDT(n_estimators=30, max_depth=3), name="xgboost", task="regression",
                            target="saifi", dataset_fn=fake_dataset)
    vr = train_and_register(store, NativeGBDT(library="lightgbm", task="classification", n_estimators=30),
                            name="lightgbm", task="classification", target="risk", dataset_fn=fake_dataset)
    res = predict(store, period="2019-12", dataset_fn=fake_dataset)
    f = res.frame
    assert res.models == {"saifi": vs, "risk": vr}
    assert {"pred_saifi", "pred_risk", "proba_risk", "actual_saifi", "actual_risk", "drivers"} <= set(f.columns)
    assert set(f["pred_risk"]) <= {"Bajo", "Medio", "Alto"}
    assert f["pred_saifi"].is_monotonic_decreasing and len(f) == 80
    # the riskiest predicted assets by SAIFI are mostly predicted Alto/Medio
    assert (f.head(10)["pred_risk"] != "Bajo").mean() >= 0.5
    # an explicit version predicts only its own target
    only = predict(store, model=vr, period="2019-12", dataset_fn=fake_dataset)
    assert only.models == {"risk": vr} and "pred_saifi" not in only.frame
    # riskiest first: by the expected class rank, not by the confidence in the predicted class
    f1 = only.frame
    assert f1["score_risk"].is_monotonic_decreasing
    order = {"Bajo": 0, "Medio": 1, "Alto": 2, "Muy Alto": 3}
    ranks = f1["pred_risk"].map(order).to_numpy()
    assert ranks[:10].mean() > ranks[-10:].mean()
    # the champion of the risk slot leads when its slot is asked for, with the other champions beside it
    slot = next(m for m in Registry(store).list(status="champion") if m["target"] == "risk")["slot"]
    by_slot = predict(store, slot=slot, period="2019-12", dataset_fn=fake_dataset).frame
    assert by_slot["score_risk"].is_monotonic_decreasing and "pred_saifi" in by_slot
    drivers = only.frame["drivers"].str.split(";").str[0].str.split(" ").str[0]
    assert set(drivers[drivers != ""]) <= {"veg", "age", "frailty", "lightning"}


def test_default_period_is_latest_and_unknown_period_errors(store):
    train_and_register(store, NativeGBDT(n_estimators=10), name="xgboost", task="regression", target="saifi",
                       dataset_fn=fake_dataset)
    assert predict(store, dataset_fn=fake_dataset).period == "2019-12"
    with pytest.raises(NotFoundError, match=r"period '2018-03' not in the dataset \(2019-01\.\.2019-12\)"):
        predict(store, period="2018-03", dataset_fn=fake_dataset)
    with pytest.raises(ValidationError, match=r"'2030-01' is beyond the data \(last 2019-12\).*only the next period, 2020-01"):
        predict(store, period="2030-01", dataset_fn=fake_dataset)
    with pytest.raises(NotFoundError, match="v0042"):
        predict(store, model="v0042", dataset_fn=fake_dataset)
    res = predict(store, period="2019-06", dataset_fn=fake_dataset)
    assert np.isfinite(res.frame["pred_saifi"]).all()
    assert res.to_dict(limit=3)["rows"] == 80 and len(res.to_dict(limit=3)["assets"]) == 3


def test_next_period_is_the_forecast(store):
    """``period="next"``: the period after the data, predicted from features known at its start, with no
    actuals; it ranks assets like the same model does on the last observed period's features."""
    train_and_register(store, NativeGBDT(n_estimators=10), name="xgboost", task="regression", target="saifi",
                       dataset_fn=fake_dataset)
    nxt = predict(store, period="next", dataset_fn=fake_dataset)
    assert nxt.period == "2020-01" and len(nxt.frame) == 80 and "actual_saifi" not in nxt.frame
    assert np.isfinite(nxt.frame["pred_saifi"]).all()
    assert predict(store, period="2020-01", dataset_fn=fake_dataset).period == "2020-01"
    last = predict(store, period="2019-12", dataset_fn=fake_dataset).frame  # same features in the fake
    assert np.allclose(nxt.frame.set_index("asset_id")["pred_saifi"].sort_index(),
                       last.set_index("asset_id")["pred_saifi"].sort_index())


def test_a_partly_covered_last_quarter_is_named(tmp_path):
    """Events that stop in the first month of a quarter: forecasting the next quarter reads the missing
    months as outage-free, and predict says so (a month is always complete)."""
    from gridcrit.data.ingest import ingest
    from gridcrit.registry.predict import _last_event_label
    from ingest_helpers import EV_HEADER, ev_row

    f = tmp_path / "ev.csv"
    f.write_text("\n".join([EV_HEADER, ev_row(1, inicio="2020-03-01 10:00:00", fin="2020-03-01 12:00:00"),
                            ev_row(2, inicio="2020-04-07 10:00:00", fin="2020-04-07 12:00:00")]) + "\n")
    s = tmp_path / "s.duckdb"
    ingest([f], s)
    assert _last_event_label(s, "quarter")[1] == "last event 2020-04-07"
    assert _last_event_label(s, "month")[1] is None
