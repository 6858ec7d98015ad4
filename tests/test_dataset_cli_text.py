"""`gridcrit dataset build` reads the quarter labels `gridcrit indices` writes, and prints its data
problems in the user's language."""

from __future__ import annotations

import json

import pytest

from gridcrit.cli import run
from gridcrit.data.store import connect
from gridcrit.errors import ValidationError
from gridcrit.features.periods import parse_period
from gridcrit.features.sample_store import build_sample_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = build_sample_store(tmp_path_factory.mktemp("txt") / "s.duckdb", n_circuits=2, segments_per_circuit=15,
                              start="2019-01", end="2019-12", event_rate=0.06, seed=2)
    con = connect(path)  # an event on a device nobody knows: a data problem to print
    con.execute("""INSERT INTO interrupciones (evento, equipo_ope, tipo_equi_ope, inicio, fin, duracion_h, cnt_usus,
                   SAIFI, SAIDI) VALUES (999999, 'T_GHOST', 'transformador', TIMESTAMP '2019-05-03 10:00',
                   TIMESTAMP '2019-05-03 12:00', 2.0, 10, 0.001, 0.002)""")
    con.close()
    return path


@pytest.mark.parametrize("label", ["2023-Q2", "2023Q2", "2023q2", " 2023Q2"])
def test_quarter_labels_of_both_commands_parse(label):
    assert parse_period(label, "quarter") == 2023 * 4 + 1
    assert parse_period(label, "month") == 2023 * 12 + 3


@pytest.mark.parametrize("bad", ["2023Q5", "2023-Q0", "Q2", "2023-13"])
def test_bad_labels_still_fail(bad):
    with pytest.raises(ValidationError):
        parse_period(bad, "quarter")


def test_cli_accepts_indices_quarter_labels(store, tmp_path, capsys):
    out = tmp_path / "q.parquet"
    assert run(["dataset", "build", "--store", str(store), "--level", "circuit", "--period", "quarter",
                "--start", "2019Q2", "--end", "2019Q3", "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["periods"] == ["2019-Q2", "2019-Q3"]


def test_problem_lines_follow_lang(store, tmp_path, capsys):
    out = tmp_path / "t.parquet"
    assert run(["dataset", "build", "--store", str(store), "--level", "transformer", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "events_on_unknown_devices: 1 (ej.: T_GHOST)" in text and "e.g." not in text
    assert run(["dataset", "card", str(out), "--lang", "en"]) == 0
    assert "(e.g. T_GHOST)" in capsys.readouterr().out
    assert run(["dataset", "build", "--store", str(store), "--level", "transformer", "--out", str(out), "--json"]) == 0
    assert "events_on_unknown_devices: 1 (e.g. T_GHOST)" in json.loads(capsys.readouterr().out)["problems"]
