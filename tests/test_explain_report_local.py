"""The report's local explanations state each row's prediction and what the contributions add up to."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridcrit.explain.report import explain_rows, write_report
from gridcrit.models.zoo import make_model


def test_report_local_texts_show_prediction_and_base(tmp_path):
    rng = np.random.default_rng(2)
    n = 200
    X = pd.DataFrame({"age": rng.uniform(0, 40, n), "veg": rng.gamma(2, 1, n)})
    y = rng.poisson(np.exp(0.03 * X["age"] + 0.3 * X["veg"] - 1)).astype(float)
    rows = pd.DataFrame({"asset_id": [f"T{i:03d}" for i in range(n)], "period": "2020-01"})
    m = make_model("xgboost", task="poisson", n_estimators=30, max_depth=3).fit(X, y)
    b = explain_rows(m, X, rows, {"age": "asset", "veg": "exposure"}, permutation_rows=50)
    text = write_report(b, tmp_path, lang="en").read_text(encoding="utf-8")
    top = int(np.argmax(m.predict(X)))
    assert f"T{top:03d} 2020-01: Prediction {m.predict(X)[top]:.4g}." in text
    assert "the log of the prediction" in text
