"""Metrics the registry records and uses to compare a champion with a challenger.

Primary metric (the one the promotion margin applies to), by task:

* ``regression`` -> ``rmse`` (lower is better),
* ``poisson``    -> ``poisson_deviance`` (lower is better),
* ``classification`` -> ``rps`` (lower is better): the ranked probability score of the class
  probabilities (``predict_proba``) on the classes' defined order — the risk levels Bajo < Medio < Alto <
  Muy Alto, or numeric codes by value, never the labels' alphabetical order; columns are matched to that
  order by the model's ``classes_`` (:func:`gridcrit.models.metrics.rps`). The argmax metrics tie when
  every model predicts the majority class (the rare high-risk classes of the small twins), so promotion
  on macro-F1 decided on noise; the RPS still tells the models apart.

Also recorded: MAE, R², Spearman correlation of the asset ranking, recall of the true top-10 %
assets (what planners act on); for classes macro-F1, balanced accuracy, accuracy and AUC.

Versions registered before the RPS have no ``rps`` in their stored metrics. Nothing compares stored
metrics: a retrain re-evaluates the champion and the challenger on the same new periods
(:func:`evaluate`, on one class scale :func:`class_scale`), and the listings show such a version's
old primary metric by name (:func:`recorded_primary`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from gridcrit.errors import GridcritError, ValidationError
from gridcrit.features.targets import RISK_LABELS
from gridcrit.models import metrics as M  # noqa: N812

# the classification primary before the RPS: what versions registered then were compared on
LEGACY_PRIMARY = {"classification": "macro_f1"}


def primary_metric(task: str) -> tuple[str, bool]:
    """(metric name, higher_is_better) used for promotion decisions."""
    if task == "classification":
        return "rps", False
    if task == "poisson":
        return "poisson_deviance", False
    return "rmse", False


def top_recall(y_true: np.ndarray, y_pred: np.ndarray, share: float = 0.1) -> float:
    """Share of the truly worst ``share`` of rows (by y_true) found in the predicted worst ``share``."""
    n = len(y_true)
    k = max(1, round(share * n))
    if np.all(y_true == y_true[0]):
        return float("nan")
    true_top = set(np.argsort(-y_true, kind="stable")[:k])
    pred_top = set(np.argsort(-y_pred, kind="stable")[:k])
    return len(true_top & pred_top) / k


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    err = p - y
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    out = {"n": len(y), "mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err**2))),
           "r2": 1 - float(np.sum(err**2)) / ss_tot if ss_tot > 0 else float("nan"),
           "top10_recall": top_recall(y, p)}
    out["spearman"] = float(stats.spearmanr(y, p).statistic) if np.std(y) > 0 and np.std(p) > 0 else float("nan")
    mu = np.clip(p, 1e-9, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / mu), 0.0) - (y - mu)
    out["poisson_deviance"] = float(2 * np.mean(term)) if (y >= 0).all() else float("nan")
    return out


def higher_is_better(name: str) -> bool:
    """Whether a higher value of metric ``name`` is better (``rps``, ``rmse``, ``poisson_deviance``,
    ``mae``: lower is better)."""
    return {**M.HIGHER_IS_BETTER, "accuracy": True}.get(name, False)


def recorded_primary(task: str, metrics: dict[str, Any] | None) -> tuple[str, bool]:
    """(name, higher_is_better) of the primary metric a recorded metrics dict (one ``evaluate`` result)
    holds: :func:`primary_metric` when it is there, else the one used before it (a classifier registered
    before the RPS: ``macro_f1``, higher is better)."""
    name, higher = primary_metric(task)
    old = LEGACY_PRIMARY.get(task)
    if old and isinstance(metrics, dict) and name not in metrics and old in metrics:
        return old, True
    return name, higher


def classification_metrics(y_true: Any, y_pred: Any, proba: Any, classes: list,
                           order: list | None = None) -> dict[str, float]:
    """RPS of ``proba`` (columns in the order of ``classes``) on ``order`` (default: the defined order of
    the labels, :func:`gridcrit.models.metrics.class_order`), then the argmax metrics of ``y_pred``."""
    from sklearn.metrics import balanced_accuracy_score, f1_score

    y = np.asarray(y_true).astype(str)
    p = np.asarray(y_pred).astype(str)
    return {"n": len(y), "rps": M.rps(np.asarray(y_true, dtype=object), proba, list(classes), order),
            "macro_f1": float(f1_score(y, p, average="macro", zero_division=0)),
            "balanced_accuracy": float(balanced_accuracy_score(y, p)), "accuracy": float(np.mean(y == p)),
            "auc": M.auc(y, np.asarray(proba, dtype=float), list(classes))}


def class_probabilities(model: Any, X: Any) -> tuple[np.ndarray, list]:
    """``(predict_proba(X), classes_)`` of a classifier, or an error that says what is missing."""
    what = type(model).__name__
    if not callable(getattr(model, "predict_proba", None)):
        raise GridcritError(
            f"{what} has no predict_proba: the registry scores classifiers by the ranked probability score "
            "of their class probabilities (rps), so a classification model must give predict_proba(X)",
            es=f"{what} no tiene predict_proba: el registro evalúa los clasificadores con el puntaje de "
               "probabilidad ordinal (rps) de sus probabilidades por clase, así que un modelo de "
               "clasificación debe ofrecer predict_proba(X)")
    classes = getattr(model, "classes_", None)
    if classes is None:
        raise GridcritError(f"{what} has predict_proba but no classes_: its probability columns cannot be "
                            "matched to the classes' order",
                            es=f"{what} tiene predict_proba pero no classes_: no se sabe a qué clase "
                               "corresponde cada columna de probabilidad")
    classes = list(classes)
    proba = np.asarray(model.predict_proba(X), dtype=float)
    if proba.ndim != 2 or proba.shape != (len(X), len(classes)):
        raise GridcritError(f"{what}.predict_proba gave shape {proba.shape}; expected ({len(X)}, {len(classes)}) "
                            f"— one column per class of classes_ ({', '.join(map(str, classes))})")
    return proba, classes


def class_scale(y: Any, *models: Any) -> list | None:
    """One ordered class scale for scoring several classifiers on ``y`` alike (their RPS then shares
    ``K``): the defined order of the labels of ``y`` and of every model's ``classes_``."""
    labels = [*np.asarray(y, dtype=object).ravel()]
    for m in models:
        classes = getattr(m, "classes_", None)
        labels += [] if classes is None else list(classes)
    return M.class_order(labels)


def evaluate(model: Any, X: Any, y: Any, task: str, order: list | None = None) -> dict[str, float]:
    """All metrics of ``model`` on (X, y). Classifiers are scored on their class probabilities
    (``predict_proba``, columns matched to ``order`` by ``classes_``; default order: :func:`class_scale`
    of ``y`` and the model); pass one ``order`` to score a champion and a challenger on the same scale."""
    if task == "classification":
        proba, classes = class_probabilities(model, X)
        if order is None:
            order = class_scale(y, model)
        if order is None:
            labels = sorted({str(c) for c in [*np.asarray(y, dtype=object).ravel(), *classes]})
            raise ValidationError(
                f"the registry scores classifiers by the ranked probability score, which needs ordered classes; "
                f"{', '.join(labels)} are neither the risk levels ({' < '.join(RISK_LABELS)}) nor numbers: "
                "code the classes 0..K-1 in their order",
                es=f"el registro evalúa los clasificadores con el puntaje de probabilidad ordinal (rps), que "
                   f"necesita clases ordenadas; {', '.join(labels)} no son los niveles de riesgo "
                   f"({' < '.join(RISK_LABELS)}) ni números: codifique las clases 0..K-1 en su orden")
        return classification_metrics(y, model.predict(X), proba, classes, order)
    return regression_metrics(y, model.predict(X))


def improvement(champion: dict[str, float], challenger: dict[str, float], task: str) -> float:
    """Relative improvement of the challenger on the primary metric (> 0: challenger better; for a
    lower-is-better metric such as ``rps`` that is a lower value). Both dicts must come from
    :func:`evaluate` on the same rows: a dict without the metric (e.g. a version's stored metrics from
    before the RPS) is an error, not a comparison on another metric."""
    name, higher = primary_metric(task)
    missing = [who for who, d in (("champion", champion), ("challenger", challenger)) if name not in d]
    if missing:
        raise GridcritError(f"no {name} in the {' and '.join(missing)} metrics: evaluate both models on the "
                            "same periods first (registry.evaluate.evaluate)")
    a, b = champion[name], challenger[name]
    if not (np.isfinite(a) and np.isfinite(b)):
        return float("nan")
    denom = abs(a) if a != 0 else 1.0
    return (b - a) / denom if higher else (a - b) / denom
