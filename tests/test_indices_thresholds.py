"""Momentary threshold (CREG 3 min by default, IEEE 1366-2012 5 min on request), incomplete periods
reported, and bad options answered with one line in the user's language."""

from __future__ import annotations

import pytest

from gridcrit.errors import ValidationError
from gridcrit.reliability.indices import compute_indices
from test_indices_core import EVENTS, N_JAN, _ev, _row, build_store

FOUR_MIN = 4 / 60


@pytest.fixture()
def store(tmp_path):
    # a 4-minute interruption on T1 (10 customers): sustained for CREG, momentary for IEEE 1366
    return build_store(tmp_path / "t.duckdb", [*EVENTS, _ev(7, "2023-01-20 09:00", FOUR_MIN, "T1", "transformador",
                                                             "C1", 10, N_JAN, tipo="> 3 min")])


def test_default_threshold_is_three_minutes(store):
    jan = _row(compute_indices(store, "system", "month"), "SISTEMA", "2023-01")
    assert jan["SAIFI"] == pytest.approx((15 + 10) / N_JAN)
    assert jan["MAIFI"] == pytest.approx(20 / N_JAN)
    assert jan["SAIDI"] == pytest.approx((2.0 * 15 + FOUR_MIN * 10) / N_JAN)


def test_ieee_five_minute_threshold(store):
    res = compute_indices(store, "system", "month", momentary_minutes=5)
    jan = _row(res, "SISTEMA", "2023-01")
    assert jan["SAIFI"] == pytest.approx(15 / N_JAN)
    assert jan["MAIFI"] == pytest.approx((20 + 10) / N_JAN)
    assert jan["SAIDI"] == pytest.approx(2.0 * 15 / N_JAN)
    assert jan["CAIDI"] == pytest.approx(2.0)
    assert res.report.info["momentary_minutes"] == 5
    # the export's tipo_duracion ('> 3 min') is still right at its own 3-minute threshold
    assert "tipo_duracion_disagrees" not in {p.kind for p in res.report.problems}
    # transformer level follows the same rule
    t1 = _row(compute_indices(store, "transformer", "month", momentary_minutes=5), "T1", "2023-01")
    assert t1["SAIFI"] == 0 and t1["MAIFI"] == pytest.approx(10 / 10)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "x"])
def test_bad_threshold_rejected(store, bad):
    with pytest.raises(ValidationError, match="momentary threshold"):
        compute_indices(store, "system", "month", momentary_minutes=bad)


def test_incomplete_periods_are_reported(store):
    # events from January to March 2023: the year holds 3 of 12 months, the quarter is complete
    year = compute_indices(store, "system", "year")
    inc = {p.kind: p for p in year.report.problems}["periods_incomplete"]
    assert inc.examples == ["2023 (3/12)"]
    assert _row(year, "SISTEMA", "2023")["months"] == 3
    for period in ("month", "quarter"):
        assert "periods_incomplete" not in {p.kind for p in compute_indices(store, "system", period).report.problems}


def test_feb_only_quarter_is_incomplete(tmp_path):
    s = build_store(tmp_path / "f.duckdb", [e for e in EVENTS if e["inicio"].month == 2])
    inc = {p.kind: p for p in compute_indices(s, "circuit", "quarter").report.problems}["periods_incomplete"]
    assert inc.examples == ["2023Q1 (1/3)"]


def test_cli_threshold_and_one_line_errors(store, capsys):
    from gridcrit.cli import run

    assert run(["indices", "--store", str(store), "--period", "month", "--momentary-min", "5", "--json"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    jan = next(r for r in doc["indices"] if r["period"] == "2023-01")
    assert jan["SAIFI"] == pytest.approx(15 / N_JAN)
    assert run(["indices", "--store", str(store), "--momentary-min", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "umbral" in err[0]
    assert run(["indices", "--store", str(store), "--period", "week"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "periodo desconocido 'week'" in err[0]
    assert run(["indices", "--store", str(store), "--by", "planet", "--lang", "en"]) == 2
    assert "unknown level 'planet'" in capsys.readouterr().err


def test_rows_without_any_duration_are_reported(tmp_path):
    ev = _ev(8, "2023-01-25 09:00", 1.0, "T1", "transformador", "C1", 10, N_JAN)
    ev.update(duracion_h=None, fin=None)
    s = build_store(tmp_path / "d.duckdb", [*EVENTS, ev])
    res = compute_indices(s, "system", "month")
    p = {p.kind: p for p in res.report.problems}["rows_without_duration"]
    assert p.count == 1 and p.examples == ["8"] and p.weight["customer_interruptions"] == 10
    assert _row(res, "SISTEMA", "2023-01")["MAIFI"] == pytest.approx((20 + 10) / N_JAN)


def test_unplanned_option_has_the_dataset_spelling_too(store, capsys):
    """`gridcrit dataset build --unplanned-only` and `gridcrit indices --unplanned` name one filter: both
    spellings work in both commands."""
    import json

    from gridcrit.cli import run

    docs = []
    for opt in ("--unplanned", "--unplanned-only"):
        assert run(["indices", "--store", str(store), opt, "--json"]) == 0
        docs.append(json.loads(capsys.readouterr().out)["indices"])
    assert docs[0] == docs[1] and len(docs[0]) > 0
