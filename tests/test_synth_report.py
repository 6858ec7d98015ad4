"""Calibration report and CLI of the synthetic twin."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from gridcrit.cli import run
from gridcrit.data.synth.report import FACTOR, PROFILE, calibration_report, load_profile
from gridcrit.errors import NotFoundError


def test_report_on_tiny(tiny_twin):
    rep = calibration_report(tiny_twin)
    assert rep["scale"] == "tiny" and rep["subset_rows"] > 50
    metrics = {c["metric"]: c for c in rep["checks"]}
    for col in ("duracion_h", "cnt_usus", "CNT_TRAFOS_AFEC", "SAIFI", "SAIDI"):
        for q in ("p25", "p50", "p75"):
            c = metrics[f"{col} {q}"]
            assert c["target"] and c["ratio"] == pytest.approx(c["generated"] / c["published"])
            assert c["pass"] == (1 / FACTOR <= c["ratio"] <= FACTOR)
    assert rep["n_target"] == sum(c["target"] for c in rep["checks"])
    ev = pd.read_csv(tiny_twin / "interrupciones.csv", dtype={"causa": str, "tipo_elemento": str})
    sub = ev[(ev["tipo_causa"] == "NP") & (ev["tipo_elemento"] == "13.2")]
    assert metrics["cnt_usus p50"]["generated"] == pytest.approx(sub["cnt_usus"].median())


def test_report_detects_bad_durations(tiny_twin, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_twin, bad)
    ev = pd.read_csv(bad / "interrupciones.csv", dtype={"causa": str, "tipo_elemento": str})
    ev["duracion_h"] *= 10
    ev.to_csv(bad / "interrupciones.csv", index=False)
    rep = calibration_report(bad)
    m = {c["metric"]: c for c in rep["checks"]}
    assert not m["duracion_h p50"]["pass"] and not rep["passed"]


def test_profile_file_matches_embedded_targets(shared_data):
    prof = load_profile(shared_data / "chec" / "interrupciones_profile.json")
    assert prof["quantiles"] == PROFILE["quantiles"]
    assert prof["share_gt_3min"] == pytest.approx(PROFILE["share_gt_3min"])
    assert prof["joined"] == PROFILE["joined"]


def test_report_missing_dir(tmp_path):
    with pytest.raises(NotFoundError):
        calibration_report(tmp_path)


def test_cli_synth_and_report(tmp_path, capsys):
    out = tmp_path / "twin"
    assert run(["synth", "--scale", "tiny", "--seed", "2", "--out", str(out), "--start", "2024-01",
                "--end", "2024-03", "--hazard", "lightning=2", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["hazards"]["lightning"] == 2.0 and res["rows"]["interrupciones"] > 0
    assert run(["synth", "--report", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["twin"] == str(out) and rep["checks"]
    assert run(["synth", "--report", str(out), "--lang", "en"]) == 0
    assert "Calibration" in capsys.readouterr().out


def test_cli_errors(tmp_path, capsys):
    assert run(["synth", "--out", str(tmp_path), "--hazard", "vegetation"]) == 2
    assert "NAME=MULTIPLIER" in capsys.readouterr().err
    assert run(["synth", "--out", str(tmp_path), "--scale", "huge"]) != 0
    assert run(["synth"]) != 0
    assert run(["synth", "--report", str(tmp_path / "nope")]) == 3


def test_cli_human_output_with_progress(tmp_path, capsys):
    out = tmp_path / "twin"
    assert run(["synth", "--scale", "tiny", "--out", str(out), "--start", "2024-01", "--end", "2024-02",
                "--lang", "en"]) == 0
    text = capsys.readouterr().out
    assert "Synthetic twin written to" in text and "interrupciones" in text


def test_all_hazards_off_leaves_only_planned_and_substation(tmp_path):
    from gridcrit.data.synth import HAZARD_NAMES, synthesize

    synthesize(tmp_path, scale="tiny", seed=0, start="2020-01", end="2020-06", hazards=dict.fromkeys(HAZARD_NAMES, 0))
    te = pd.read_csv(tmp_path / "truth_events.csv")
    assert set(te["driver"]) <= {"planned", "substation"}


@pytest.mark.slow
@pytest.mark.long
def test_chec_scale_calibration_passes(tmp_path):
    """At CHEC scale every published p25/p50/p75 (and the shares) is matched within a factor 1.5."""
    from gridcrit.data.synth import synthesize

    res = synthesize(tmp_path, scale="chec", seed=0)
    assert 55_000 <= res.assets["segments"] <= 70_000 and 18_000 <= res.assets["transformers"] <= 24_000
    assert 150_000 <= res.rows["interrupciones"] <= 230_000
    assert 1_300_000 <= res.rows["rayos"] <= 2_100_000
    assert abs(res.customers["2019-01"] - 497_700) < 10_000 and abs(res.customers["2024-06"] - 566_100) < 12_000
    rep = calibration_report(tmp_path)
    failed = [c for c in rep["checks"] if c["target"] and not c["pass"]]
    assert rep["passed"], failed
