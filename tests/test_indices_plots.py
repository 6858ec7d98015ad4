"""`gridcrit indices --plot`: the charts a planner puts in a report (indices per period or the worst
groups, and the MED chart with T_MED), as PNG files."""

from __future__ import annotations

import json

import pytest

from gridcrit.cli import run
from test_indices_core import build_store

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("by", "period"), [("system", "month"), ("circuit", "quarter")])
def test_plot_writes_indices_and_med_charts(tmp_path, capsys, by, period):
    store = build_store(tmp_path / "s.duckdb")
    out = tmp_path / "charts" / f"{by}.png"
    assert run(["indices", "--store", str(store), "--by", by, "--period", period, "--plot", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    med = out.with_name(f"{by}_med.png")
    assert doc["plots"] == [str(out), str(med)]
    for p in (out, med):
        assert p.read_bytes()[:8] == PNG and p.stat().st_size > 5000


def test_plot_needs_a_png_name(tmp_path, capsys):
    store = build_store(tmp_path / "s.duckdb")
    assert run(["indices", "--store", str(store), "--plot", str(tmp_path / "x.jpg")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ".png" in err[0]
    assert not (tmp_path / "x.jpg").exists()
