"""`gridcrit topology trace` speaks the user's language: one-line errors in Spanish by default, readable
distances."""

from __future__ import annotations

from gridcrit.cli import run
from test_indices_core import build_store


def test_trace_errors_are_one_spanish_line_by_default(tmp_path, capsys):
    store = build_store(tmp_path / "s.duckdb")
    assert run(["topology", "trace", "NOPE", "--store", str(store)]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "el equipo 'NOPE' no es un interruptor" in err[0]
    assert run(["topology", "trace", "NOPE", "--store", str(store), "--lang", "en"]) == 3
    assert "device 'NOPE' is not a switch" in capsys.readouterr().err
    assert run(["topology", "trace", "R1", "--store", str(store), "--date", "2020-01-01"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no tiene corte en o antes de 2020-01-01" in err[0]


def test_trace_distance_is_rounded(tmp_path, capsys):
    from gridcrit.data.store import connect

    store = build_store(tmp_path / "s.duckdb")
    con = connect(store)
    con.execute("UPDATE redmt SET LENGTH = LENGTH + 0.1")  # the head to S5 sums to 120.19999999999999 m
    con.close()
    assert run(["topology", "trace", "S5", "--store", str(store), "--json"]) == 0
    import json

    raw = json.loads(capsys.readouterr().out)["distance_m"]
    assert abs(raw - 120.2) < 1e-9
    assert run(["topology", "trace", "S5", "--store", str(store)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("distancia (m):"))
    value = line.split(":", 1)[1].strip()
    assert value == "120.2"
