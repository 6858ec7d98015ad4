"""Conventions every command shares: version, help, one-line errors."""

from __future__ import annotations

import pytest

from gridcrit.cli import run


def test_version(capsys):
    assert run(["--version"]) == 0
    assert "gridcrit" in capsys.readouterr().out


def test_unknown_command_fails(capsys):
    assert run(["no-such-command"]) != 0


def test_busy_spinner_only_on_a_terminal_and_never_with_json(monkeypatch):
    import io

    import pytest
    from rich.console import Console

    from gridcrit.cli import common

    def shown(quiet: bool, terminal: bool) -> str:
        buf = io.StringIO()
        monkeypatch.setattr(common, "err_console", Console(file=buf, force_terminal=terminal, width=80))
        with common.busy(quiet, "entrenando tabnet…"):
            pass
        return buf.getvalue()

    assert "entrenando tabnet…" in shown(quiet=False, terminal=True)
    assert shown(quiet=True, terminal=True) == ""  # --json: stdout and stderr stay clean
    assert shown(quiet=False, terminal=False) == ""  # piped / captured stderr: no control codes
    monkeypatch.setattr(common, "err_console", Console(file=io.StringIO(), force_terminal=True))
    with pytest.raises(ValueError), common.busy(False, "x"):  # a failing step still raises through it
        raise ValueError("boom")


def test_errors_follow_lang(tmp_path, capsys, monkeypatch):
    # a library error with a Spanish text is printed in Spanish unless --lang en / GRIDCRIT_LANG=en
    from gridcrit.cli import run

    monkeypatch.delenv("GRIDCRIT_LANG", raising=False)
    store = str(tmp_path / "none.duckdb")
    assert run(["train", "--model", "catboost", "--store", store]) != 0
    assert capsys.readouterr().err.startswith("gridcrit: error: modelo desconocido 'catboost'")
    assert run(["train", "--model", "catboost", "--store", store, "--lang", "en"]) != 0
    assert capsys.readouterr().err.startswith("gridcrit: error: unknown model 'catboost'")
    monkeypatch.setenv("GRIDCRIT_LANG", "en")
    assert run(["predict", "--store", store]) == 3
    assert "no models registered" in capsys.readouterr().err


@pytest.mark.parametrize(("lang", "text"), [("es", "gridcrit: error: interrumpido"), ("en", "gridcrit: error: interrupted")])
def test_ctrl_c_is_one_line_in_the_asked_language(monkeypatch, capsys, tmp_path, lang, text):
    import gridcrit.data.store as st

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(st, "store_info", boom)
    assert run(["store", "info", "--store", str(tmp_path / "s.duckdb"), "--lang", lang]) == 130
    assert capsys.readouterr().err == text + "\n"


def test_json_failures_print_one_error_document_on_stdout(tmp_path, capsys, monkeypatch):
    """Scripts reading ``--json`` output get a JSON document on failure too (the reason stays on stderr)."""
    import json

    monkeypatch.delenv("GRIDCRIT_LANG", raising=False)
    bad = tmp_path / "weird.csv"
    bad.write_text("a;b\n1;2\n", encoding="utf-8")
    store = tmp_path / "s.duckdb"
    assert run(["ingest", str(bad), "--store", str(store), "--json", "--lang", "en"]) == 2
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["exit_code"] == 2 and doc["kind"] == "ValidationError" and doc["n_problems"] == 1
    assert doc["problems"][0].startswith(f"{bad}:1:") and "matches no known table" in doc["problems"][0]
    assert err.splitlines()[-1] == "gridcrit: error: " + doc["error"]

    assert run(["ingest", "--bogus", "--json"]) == 2  # usage errors too
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "UsageError" and "--bogus" in doc["error"]

    assert run(["ingest", str(bad), "--store", str(store)]) == 2  # without --json stdout stays empty
    assert capsys.readouterr().out == ""


def test_json_error_never_follows_a_document_already_printed(tmp_path, capsys, monkeypatch):
    import json

    import gridcrit.data.store as st
    from gridcrit.errors import GridcritError

    def half_done(*a, **k):
        print('{"partial": true}')
        raise GridcritError("failed after printing")

    monkeypatch.setattr(st, "store_info", half_done)
    assert run(["store", "info", "--store", str(tmp_path / "s.duckdb"), "--json"]) == 1
    out = capsys.readouterr().out
    assert json.loads(out) == {"partial": True}  # one document on stdout, not two
    import sys

    assert not type(sys.stdout).__name__.startswith("_StdoutWatch")  # stdout given back
