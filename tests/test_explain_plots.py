"""Explanation charts: one asset's drivers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gridcrit.explain import plots


def test_asset_drivers_leave_out_zero_weights_and_unsigned_is_one_colour(tmp_path):
    names = [f"f{i}" for i in range(8)]
    mask = np.array([0.5, 0.0, 0.3, 0.0, 0.0, 0.2, 0.0, 0.0])  # a sparse TabNet mask row
    p = plots.asset_drivers(names, mask, tmp_path / "mask", "T1 2024-06", signed=False)
    html = Path(p["html"]).read_text(encoding="utf-8")
    for shown in ("f0", "f2", "f5"):
        assert f'"{shown}"' in html
    for zero in ("f1", "f3", "f4", "f6", "f7"):
        assert f'"{zero}"' not in html
    assert "#c0392b" not in html and "#2e6da4" not in html  # no up/down colours for unsigned weights
    shap = np.array([0.4, -0.2, 0.0, 0.1, 0.0, 0.0, 0.0, 0.0])
    p = plots.asset_drivers(names, shap, tmp_path / "shap", "T1 2024-06")
    html = Path(p["html"]).read_text(encoding="utf-8")
    assert "#c0392b" in html and "#2e6da4" in html and '"f2"' not in html
