"""Synthetic twin: what a user meets when choosing the window (review of the twin)."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from gridcrit.data.synth import synthesize
from gridcrit.errors import ValidationError


def test_window_before_2019_is_refused(tmp_path):
    # the network is the utility as built by 2018-12: a 2010 window put ~22 % of its outages on segments
    # and transformers whose FECHA_ACT / DATE_FAB came years later
    with pytest.raises(ValidationError, match="2019-01"):
        synthesize(tmp_path / "old", scale="tiny", start="2018-12", end="2019-02")
    assert not (tmp_path / "old" / "interrupciones.csv").exists()


def test_no_outage_on_an_asset_before_it_was_installed(tiny_twin):
    ev = pd.read_csv(tiny_twin / "interrupciones.csv", parse_dates=["inicio"])
    truth = pd.read_csv(tiny_twin / "truth_events.csv")
    red = pq.read_table(tiny_twin / "redmt.parquet", columns=["CODE", "FECHA_ACT"]).to_pandas()
    tr = pq.read_table(tiny_twin / "trafos.parquet", columns=["CODE", "DATE_FAB"]).to_pandas()
    since = pd.concat([red.set_axis(["CODE", "d"], axis=1), tr.set_axis(["CODE", "d"], axis=1)])
    since = since.groupby("CODE")["d"].max().map(pd.Timestamp)
    truth["inicio"] = truth["evento"].map(ev.groupby("evento")["inicio"].min())
    truth["since"] = truth["fault_asset"].map(since)
    known = truth["since"].notna()
    assert known.mean() > 0.9
    assert (truth.loc[known, "since"] <= truth.loc[known, "inicio"]).all()


def test_report_on_a_small_twin_says_why_targets_fail(tiny_twin, capsys):
    from gridcrit.cli import run

    assert run(["synth", "--report", str(tiny_twin), "--lang", "en"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "rows in the unplanned 13.2 kV subset" in out and "Calibrate with --scale chec" in out
