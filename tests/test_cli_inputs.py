"""Bad command-line input gives one line `gridcrit: error: ...` (never a traceback), files are written in
the format their name says, and human output follows --lang (Spanish by default) without Python reprs."""

from __future__ import annotations

import json

import pytest

from gridcrit.cli import run
from gridcrit.features.sample_store import build_sample_store
from test_indices_core import build_store


@pytest.fixture(scope="module")
def topo_store(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("topo") / "s.duckdb")


@pytest.fixture(scope="module")
def ds_store(tmp_path_factory):
    return build_sample_store(tmp_path_factory.mktemp("ds") / "s.duckdb", n_circuits=3, segments_per_circuit=15,
                              start="2019-01", end="2019-12", event_rate=0.06, seed=1)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("gridcrit: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def flat(text: str) -> str:
    """Rich wraps at 80 columns under pytest (help inside boxes): compare with whitespace collapsed."""
    return " ".join(text.replace("│", " ").split())


# 1. bad dates and buffers: one line, not a DuckDB / assertion traceback


@pytest.mark.parametrize("opt", ["--fecha", "--date"])
@pytest.mark.parametrize("value", ["ayer", "2021-13-01", "2021-02-30", "2021-1-1"])
def test_bad_snapshot_date_is_one_line(topo_store, capsys, opt, value):
    assert run(["topology", "trace", "R1", opt, value, "--store", str(topo_store)]) == 2
    err = one_line_error(capsys)
    assert value in err and "AAAA-MM-DD" in err
    assert run(["topology", "check", opt, value, "--store", str(topo_store), "--lang", "en"]) == 2
    assert "YYYY-MM-DD" in one_line_error(capsys)


def test_library_rejects_a_bad_snapshot_date(topo_store):
    from gridcrit.errors import ValidationError
    from gridcrit.topology import Topology

    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        Topology.from_store(topo_store, "ayer")


def test_date_is_the_option_name_and_fecha_its_alias(topo_store, capsys):
    assert run(["topology", "trace", "R1", "--date", "2030-01-01", "--store", str(topo_store), "--json"]) == 0
    by_date = json.loads(capsys.readouterr().out)
    assert run(["topology", "trace", "R1", "--fecha", "2030-01-01", "--store", str(topo_store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == by_date
    assert run(["topology", "trace", "--help"]) == 0
    assert "--date" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["-5", "0", "nan", "inf", "0.5"])
def test_bad_buffer_is_one_line_before_the_build(tmp_path, capsys, value):
    # the store does not exist: the buffer is checked first, so its message is the one shown
    args = ["dataset", "build", "--store", str(tmp_path / "none.duckdb"), "--out", str(tmp_path / "d.parquet")]
    assert run([*args, "--buffer-m", value]) == 2
    assert "--buffer-m" in one_line_error(capsys)
    assert not (tmp_path / "d.parquet").exists()


def test_library_rejects_a_bad_buffer(ds_store):
    from gridcrit.errors import ValidationError
    from gridcrit.features.dataset import build_dataset

    for bad in (-5, float("nan"), 0):
        with pytest.raises(ValidationError, match="metres"):
            build_dataset(ds_store, buffer_m=bad)


# 2. the file's name says its format


def test_dataset_out_suffix_decides_the_format(ds_store, tmp_path, capsys):
    import pandas as pd

    csv = tmp_path / "x.csv"
    assert run(["dataset", "build", "--store", str(ds_store), "--level", "circuit", "--out", str(csv)]) == 0
    assert not csv.read_bytes().startswith(b"PAR1")
    frame = pd.read_csv(csv)
    assert {"asset_id", "period", "y_saifi"} <= set(frame.columns) and len(frame) > 0
    assert (tmp_path / "x.card.json").exists()
    assert "x.csv" in capsys.readouterr().out
    pq = tmp_path / "x.parquet"
    assert run(["dataset", "build", "--store", str(ds_store), "--level", "circuit", "--out", str(pq)]) == 0
    assert pq.read_bytes().startswith(b"PAR1")
    capsys.readouterr()
    for name in ("x.txt", "x"):
        assert run(["dataset", "build", "--store", str(ds_store), "--out", str(tmp_path / name)]) == 2
        assert ".parquet o .csv" in one_line_error(capsys)
        assert not (tmp_path / name).exists()


# 3. counts, threads and languages


@pytest.mark.parametrize(("args", "opt"), [
    (["indices", "--limit", "-3"], "--limit"),
    (["--threads", "0", "store", "info"], "--threads"),
    (["synth", "--seed", "-1", "--out", "tw"], "--seed"),
    (["demo", "--seed", "-1", "--out", "dm"], "--seed"),
])
def test_negative_counts_are_refused(topo_store, tmp_path, monkeypatch, capsys, args, opt):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GRIDCRIT_STORE", str(topo_store))
    assert run(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and opt in err
    assert not (tmp_path / "tw").exists() and not (tmp_path / "dm").exists()


def test_limit_zero_and_positive(topo_store, capsys):
    assert run(["indices", "--store", str(topo_store), "--json"]) == 0
    n = json.loads(capsys.readouterr().out)["rows"]
    for limit in (0, 1):
        assert run(["indices", "--store", str(topo_store), "--limit", str(limit), "--lang", "en"]) == 0
        assert f"… {n - limit} more rows" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["demo", "--lang", "fr", "--out", "dm"], ["store", "info", "--lang", "de"]])
def test_unknown_language_is_an_error(tmp_path, monkeypatch, capsys, args):
    monkeypatch.chdir(tmp_path)
    assert run(args) == 2
    assert "es | en" in capsys.readouterr().err
    assert not (tmp_path / "dm").exists()


def test_language_is_case_insensitive_also_from_the_environment(topo_store, monkeypatch, capsys):
    monkeypatch.setenv("GRIDCRIT_LANG", "EN")
    assert run(["topology", "check", "--store", str(topo_store)]) == 0
    assert "NOT radial" in capsys.readouterr().out


# 4. periods as people write them


def test_start_after_end_names_periods_not_month_numbers(ds_store, tmp_path, capsys):
    args = ["dataset", "build", "--store", str(ds_store), "--out", str(tmp_path / "d.parquet")]
    assert run([*args, "--start", "2024-01", "--end", "2023-01"]) == 2
    err = one_line_error(capsys)
    assert "2024-01" in err and "2023-01" in err and "24288" not in err
    assert run([*args, "--start", "2030-01"]) == 2  # after the last event: the library's check
    err = one_line_error(capsys)
    assert "2030-01" in err and "2019-12" in err and "24360" not in err
    assert run([*args, "--start", "2019-Q5", "--period", "quarter"]) == 2
    assert "2019-Q5" in one_line_error(capsys)


# 5. one language at a time, human text


def test_topology_trace_and_check_follow_lang(topo_store, capsys):
    assert run(["topology", "trace", "R1", "--store", str(topo_store)]) == 0
    out = capsys.readouterr().out
    assert "equipo: R1" in out and "en el árbol: sí" in out and "protecciones aguas arriba: C1" in out
    assert "tramos (2)" in out
    for english in ("device:", "kind:", "segments (", "protective_upstream", "True", "False"):
        assert english not in out
    assert run(["topology", "trace", "R1", "--store", str(topo_store), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "device: R1" in out and "in tree: yes" in out and "segments (2)" in out and "True" not in out
    assert run(["topology", "check", "--store", str(topo_store)]) == 0
    out = flat(capsys.readouterr().out)
    assert "corte " in out and " circuitos, " in out and "snapshot" not in out and " circuits" not in out


def test_indices_system_group_follows_lang(topo_store, capsys):
    assert run(["indices", "--store", str(topo_store), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "SYSTEM" in out and "SISTEMA" not in out
    assert run(["indices", "--store", str(topo_store)]) == 0
    assert "SISTEMA" in capsys.readouterr().out
    assert run(["indices", "--store", str(topo_store), "--lang", "en", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["indices"][0]["group"] == "SISTEMA"  # data keeps its key


def test_dataset_build_and_card_print_text_not_reprs(ds_store, tmp_path, capsys):
    out = tmp_path / "d.parquet"
    assert run(["dataset", "build", "--store", str(ds_store), "--level", "circuit", "--out", str(out)]) == 0
    text = flat(capsys.readouterr().out)
    assert "{" not in text and "'" not in text
    assert "variables (activo" in text and "topología" in text and "periodos 2019-" in text
    assert run(["dataset", "card", str(out)]) == 0
    text = flat(capsys.readouterr().out)
    assert "[" not in text.split("┏")[0] and "periodos 2019-" in text and ".." in text
    assert run(["dataset", "card", str(out), "--lang", "en"]) == 0
    assert "periods 2019-" in flat(capsys.readouterr().out)


def test_synth_summary_in_spanish(tmp_path, capsys):
    assert run(["synth", "--scale", "tiny", "--out", str(tmp_path / "tw"), "--start", "2019-01",
                "--end", "2019-03"]) == 0
    out = flat(capsys.readouterr().out)
    assert "circuitos: " in out and "tramos: " in out and "semilla 0" in out
    assert "circuits:" not in out and "segments:" not in out


def test_counts_have_thousands_separators_everywhere(tmp_path, capsys):
    from gridcrit.cli.common import fmt_count

    assert fmt_count(1000) == "1,000" and fmt_count(5423) == "5,423" and fmt_count(7) == "7"
    from gridcrit.cli.data import _show_summary

    _show_summary({"tables": {"t": {"rows": 1234, "first": None, "last": None}},
                   "by_circuit": [{"circuit": "C1", "events": 1000, "SAIFI": 1.0, "SAIDI": 2.0}],
                   "by_year": [{"year": 2022, "from": "2022-01-01", "to": "2022-12-31", "events": 1000,
                                "SAIFI": 1.0, "SAIDI": 2.0}]}, "es")
    out = capsys.readouterr().out
    assert "1,234" in out and out.count("1,000") == 2 and " 1000 " not in out
    assert "eventos" in out and "año" in out


# 6. help texts


def test_help_is_bilingual_and_store_default_follows_the_environment(monkeypatch, capsys, tmp_path):
    assert run(["dataset", "build", "--help"]) == 0
    out = flat(capsys.readouterr().out)
    assert "primer periodo" in out and "en metros" in out and "no programados" in out
    assert run(["data", "load-vegetation", "--help"]) == 0
    assert "Normaliza" in flat(capsys.readouterr().out)
    monkeypatch.setenv("GRIDCRIT_STORE", str(tmp_path / "elsewhere.duckdb"))
    for cmd in (["ingest"], ["store", "info"], ["data", "load-vegetation"]):
        assert run([*cmd, "--help"]) == 0
        assert "default: gridcrit.duckdb" not in flat(capsys.readouterr().out)


def test_store_info_uses_the_environment_store(topo_store, monkeypatch, capsys):
    monkeypatch.setenv("GRIDCRIT_STORE", str(topo_store))
    assert run(["store", "info", "--json"]) == 0
    assert "redmt" in json.loads(capsys.readouterr().out)["tables"]
