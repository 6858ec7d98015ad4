"""--json error documents on every failure path, stdout given back, --allow-host values (review of the change)."""

from __future__ import annotations

import json
import sys
import threading
import time

import pytest

from gridcrit.cli import run


def test_json_error_document_after_ctrl_c_in_ingest(tmp_path, capsys, monkeypatch):
    import gridcrit.data.ingest as ing

    def ki(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(ing, "ingest", ki)
    assert run(["ingest", str(tmp_path / "x.csv"), "--store", str(tmp_path / "s.duckdb"), "--json", "--lang", "en"]) == 130
    out, err = capsys.readouterr()
    assert json.loads(out) == {"error": "interrupted", "exit_code": 130, "kind": "Interrupted"}
    assert err.count("\n") == 1 and "interrupted" in err


def test_ctrl_c_kind_names_no_private_class(tmp_path, capsys, monkeypatch):
    import gridcrit.data.store as st

    def ki(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(st, "store_info", ki)
    assert run(["store", "info", "--store", str(tmp_path / "s.duckdb"), "--json", "--lang", "en"]) == 130
    assert json.loads(capsys.readouterr().out)["kind"] == "Interrupted"


def test_json_after_double_dash_is_an_argument_not_the_option(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run(["ingest", "--store", str(tmp_path / "s.duckdb"), "--lang", "en", "--", "--json"]) == 3
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("gridcrit: error: --json")


def test_stdout_given_back_after_runs_in_threads(tmp_path, monkeypatch, capsys):
    import gridcrit.data.store as st

    def slow(*a, **k):
        time.sleep(0.3)
        return {"ok": 1}

    monkeypatch.setattr(st, "store_info", slow)
    before = sys.stdout
    ts = [threading.Thread(target=run, args=(["store", "info", "--store", str(tmp_path / "s.duckdb"), "--json"],))
          for _ in range(2)]
    for t in ts:
        t.start()
        time.sleep(0.05)
    for t in ts:
        t.join()
    assert sys.stdout is before
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [{"ok": 1}, {"ok": 1}]


@pytest.fixture
def served(tmp_path, monkeypatch):
    """``gridcrit serve`` without a server: the app it would run."""
    import uvicorn

    store = tmp_path / "s.duckdb"
    store.write_bytes(b"")
    apps = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: apps.append(app))

    def serve(*extra):
        apps.clear()
        rc = run(["serve", "--store", str(store), "--no-warm", *extra])
        return rc, (apps[0] if apps else None)

    return serve


def test_allow_host_with_a_port_or_bare_ipv6_still_matches(served):
    from fastapi.testclient import TestClient

    rc, app = served("--allow-host", "GridCrit.lan:8080", "--allow-host", "fe80::1")
    assert rc == 0
    c = TestClient(app, base_url="http://127.0.0.1:8765")
    assert c.get("/no-such-page", headers={"host": "gridcrit.lan:8080"}).status_code == 404  # routed, not 400
    assert c.get("/no-such-page", headers={"host": "[fe80::1]:8765"}).status_code == 404
    assert c.get("/no-such-page", headers={"host": "attacker.example"}).status_code == 400


def test_bad_allow_host_pattern_refused_at_start_not_on_every_request(served, capsys):
    rc, app = served("--allow-host", "*lan", "--lang", "en")
    assert rc == 2 and app is None
    assert capsys.readouterr().err.startswith("gridcrit: error: --allow-host '*lan'")


def test_json_error_document_on_an_ascii_only_stdout(tmp_path):
    import subprocess

    env = {**__import__("os").environ, "PYTHONIOENCODING": "ascii", "GRIDCRIT_LANG": "es"}
    p = subprocess.run([sys.executable, "-c", "from gridcrit.cli import main; main()", "store", "info", "--store",
                        str(tmp_path / "ñ.duckdb"), "--json"], capture_output=True, env=env, timeout=120)
    assert p.returncode == 3, p.stderr.decode(errors="replace")
    doc = json.loads(p.stdout)
    assert doc["exit_code"] == 3 and "ñ.duckdb" in doc["error"]
    assert b"Traceback" not in p.stderr
