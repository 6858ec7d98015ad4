"""The comparison's verdict says "wins" only when the paired interval excludes 0 (review of the models
stage). On the tiny twin, `compare --target risk` had every model predict the majority class in every
month, and the verdict read "lightgbm wins on macro_f1 …; it beats xgboost by +0.000 (95% CI +0.000 to
+0.000)": the list order picked the "winner"."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridcrit.models.compare import BASELINE, CompareResult, summarize, verdict


def _result(a: list[float], b: list[float], base: list[float], primary: str = "top10_recall") -> CompareResult:
    rows = [{"model": m, "fold": 0, "period": f"2024-{i + 1:02d}", primary: v}
            for m, vals in (("xgboost", a), ("lightgbm", b), (BASELINE, base)) for i, v in enumerate(vals)]
    folds = pd.DataFrame([{"model": m, "fold": 0, "train_s": 1.0, "predict_s": 0.1, "size_bytes": 10}
                          for m in ("xgboost", "lightgbm", BASELINE)])
    res = CompareResult(target="y_saifi", task="poisson", models=["xgboost", "lightgbm", BASELINE], folds=folds,
                        periods=pd.DataFrame(rows), predictions=pd.DataFrame())
    res.summary = summarize(res, primary, n_boot=200)
    return res


def test_identical_values_in_every_period_are_a_tie():
    v = [0.2, 0.3, 0.25, 0.1, 0.3, 0.2]
    s = _result(v, v, [0.1] * 6).summary
    assert s["winner_margin"]["significant"] is False
    assert "tie" in verdict(s) and "wins" not in verdict(s) and "beats lightgbm" not in verdict(s)
    assert "empatan" in verdict(s, "es") and "Gana" not in verdict(s, "es")


def test_an_interval_that_includes_zero_is_not_a_win():
    rng = np.random.default_rng(0)
    a = list(0.2 + rng.normal(0, 0.05, 6))
    b = [x + d for x, d in zip(a, [-0.04, 0.05, -0.03, 0.03, -0.05, 0.02], strict=True)]
    s = _result(a, b, [0.1] * 6).summary
    mg = s["winner_margin"]
    assert mg["lo"] < 0 < mg["hi"] and mg["significant"] is False
    assert "leads on" in verdict(s) and "not a significant difference" in verdict(s) and " wins " not in verdict(s)
    assert "encabeza" in verdict(s, "es") and "no es significativa" in verdict(s, "es")


def test_a_clear_margin_is_a_win():
    a = [0.30, 0.32, 0.31, 0.29, 0.33, 0.30]
    s = _result(a, [x - 0.1 for x in a], [0.1] * 6).summary
    assert s["winner"] == "xgboost" and s["winner_margin"]["significant"] is True
    assert verdict(s).startswith("xgboost wins on top10_recall") and "beats lightgbm by +0.100" in verdict(s)
    assert verdict(s, "es").startswith("Gana xgboost")


def test_lower_is_better_metrics_use_the_upper_bound():
    a = [1.0, 1.1, 0.9, 1.0, 1.05, 0.95]
    s = _result(a, [x + 0.5 for x in a], [3.0] * 6, primary="mae").summary
    assert s["winner"] == "xgboost" and s["winner_margin"]["significant"] is True
    assert "wins on mae" in verdict(s)
