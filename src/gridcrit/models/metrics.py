"""Metrics used to compare models: errors, ranking quality of assets, classification, and bootstrap CIs.

Ranking metrics answer the planners' question "did the model put the right assets on top?" and are
computed **per period** (one ranking of assets per month/quarter), then averaged:

* ``spearman`` — rank correlation of predicted vs actual;
* ``top_recall`` — share of the truly worst ``frac`` (default 10 %) assets that the model's top
  ``frac`` contains. Ties: the true top set is every asset with a positive value at least as large as
  the ``k``-th largest (``k = ceil(frac * n)``); recall is divided by ``min(k, |true set|)`` so a
  period where only 3 % of assets failed can still reach 1.0, and a period with no failures is skipped;
* ``ndcg_at_k`` — normalised discounted cumulative gain of the top ``k`` with the actual values as gains.

Classes (the risk levels) are scored first by ``rps``, the **ranked probability score** of the predicted
class probabilities on the classes' own order (:func:`class_order`: Bajo < Medio < Alto < Muy Alto from
:data:`gridcrit.features.targets.RISK_LABELS`, never the alphabetical order of the labels): per row, the
sum over the ``K - 1`` class thresholds of (predicted P(class <= k) - observed 1[class <= k])², divided by
``K - 1``; the mean over rows. 0 is perfect, lower is better; predicting the adjacent class costs less than
a far one. It is a proper scoring rule, so it separates models whose argmax is the same majority class
(where macro-F1 and balanced accuracy tie); they are still reported, with AUC.

Example::

    >>> import numpy as np
    >>> from gridcrit.models.metrics import top_recall
    >>> top_recall(np.array([0, 0, 5, 1, 0, 0, 0, 0, 0, 9]), np.arange(10.0), frac=0.2)
    0.5
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from gridcrit.errors import ValidationError
from gridcrit.features.targets import RISK_LABELS


# -- errors -------------------------------------------------------------------------------------
def mae(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(y, float) - np.asarray(p, float))))


def rmse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y, float) - np.asarray(p, float)) ** 2)))


def r2(y: np.ndarray, p: np.ndarray) -> float:
    y, p = np.asarray(y, float), np.asarray(p, float)
    ss = np.sum((y - y.mean()) ** 2)
    return float(1 - np.sum((y - p) ** 2) / ss) if ss > 0 else float("nan")


def poisson_deviance(y: np.ndarray, p: np.ndarray, eps: float = 1e-9) -> float:
    """Mean Poisson deviance (predictions clipped at ``eps``; needs y >= 0)."""
    y, p = np.asarray(y, float), np.clip(np.asarray(p, float), eps, None)
    term = np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / p), 0.0)
    return float(np.mean(2 * (term - (y - p))))


# -- ranking ------------------------------------------------------------------------------------
def spearman(y: np.ndarray, p: np.ndarray) -> float:
    y, p = pd.Series(np.asarray(y, float)), pd.Series(np.asarray(p, float))
    if y.nunique() < 2 or p.nunique() < 2:
        return float("nan")
    return float(y.rank().corr(p.rank()))


def top_recall(y: np.ndarray, p: np.ndarray, frac: float = 0.1) -> float:
    """Recall of the true top-``frac`` assets within the predicted top-``frac`` (see module doc)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    n = len(y)
    if n == 0:
        return float("nan")
    k = max(1, math.ceil(frac * n))
    kth = np.sort(y)[::-1][k - 1]
    true_top = (y >= kth) & (y > 0)
    if not true_top.any():
        return float("nan")
    # stable tie-break on predictions by position so equal predictions do not favour anyone
    pred_top = np.zeros(n, bool)
    pred_top[np.argsort(-p, kind="stable")[:k]] = True
    return float((pred_top & true_top).sum() / min(k, int(true_top.sum())))


def ndcg_at_k(y: np.ndarray, p: np.ndarray, k: int = 100) -> float:
    """NDCG@k with actual values as gains (NaN if no positive value)."""
    y, p = np.clip(np.asarray(y, float), 0, None), np.asarray(p, float)
    k = min(k, len(y))
    disc = 1 / np.log2(np.arange(2, k + 2))
    ideal = float(np.sum(np.sort(y)[::-1][:k] * disc))
    if ideal <= 0:
        return float("nan")
    return float(np.sum(y[np.argsort(-p, kind="stable")[:k]] * disc) / ideal)


def per_group(fn: Callable[[np.ndarray, np.ndarray], float], y: np.ndarray, p: np.ndarray,
              groups: np.ndarray) -> pd.Series:
    """``fn`` on each group (period), as a Series indexed by group (NaN groups kept)."""
    df = pd.DataFrame({"y": np.asarray(y, float), "p": np.asarray(p, float), "g": np.asarray(groups)})
    return pd.Series({g: fn(d["y"].to_numpy(), d["p"].to_numpy()) for g, d in df.groupby("g", sort=True)},
                     dtype=float)


# -- classification -----------------------------------------------------------------------------
def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(np.asarray(y).astype(str), np.asarray(pred).astype(str), average="macro", zero_division=0))


def balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(np.asarray(y).astype(str), np.asarray(pred).astype(str)))


def auc(y: np.ndarray, proba: np.ndarray, classes: list) -> float:
    """ROC AUC (binary) or macro one-vs-rest AUC over the classes present (NaN if < 2 present)."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y).astype(str)
    cls = [str(c) for c in classes]
    present = [i for i, c in enumerate(cls) if (y == c).any()]
    if len(present) < 2:
        return float("nan")
    scores = []
    for i in present:
        pos = y == cls[i]
        if pos.all():
            continue
        scores.append(roc_auc_score(pos, proba[:, i]))
        if len(cls) == 2:
            break
    return float(np.mean(scores)) if scores else float("nan")


# -- ordered classes --------------------------------------------------------------------------
def label_key(label: object) -> str:
    """A class label's identity whatever its dtype: ``2``, ``2.0``, ``np.int8(2)`` and ``"2"`` are one class;
    text labels match without regard to case and repeated spaces (``"Muy Alto"`` = ``"MUY  ALTO"``)."""
    try:
        f = float(label)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return " ".join(str(label).split()).casefold()
    return str(int(f)) if f.is_integer() else repr(f)


def _is_number(label: object) -> bool:
    try:
        float(label)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def class_order(labels: object) -> list | None:
    """The classes of ``labels`` from lowest to highest, from the data definition; None when unknown.

    * the risk levels (any subset of :data:`gridcrit.features.targets.RISK_LABELS`, by name): **all** of
      them in their defined order Bajo < Medio < Alto < Muy Alto — the whole scale, so its number of
      classes does not depend on which levels a period or a model happens to have;
    * numbers (the dataset's risk codes 0-3, or any numeric class codes): by value;
    * any two labels: sorted (with two classes the RPS is the Brier score whatever the order);
    * other labels (three or more names with no known order): None.
    """
    seen: dict[str, object] = {}
    for v in pd.unique(pd.Series(list(labels), dtype=object)):  # type: ignore[call-overload]
        seen.setdefault(label_key(v), v)
    if not seen:
        return None
    if set(seen) <= {label_key(r) for r in RISK_LABELS}:
        return list(RISK_LABELS)
    values = [v.item() if isinstance(v, np.generic) else v for v in seen.values()]
    if all(_is_number(v) for v in values):
        return sorted(values, key=float)
    if len(values) <= 2:
        return sorted(values, key=str)
    return None


def rps(y: np.ndarray, proba: np.ndarray | None, classes: list, order: list | None = None) -> float:
    """Ranked probability score (lower is better, 0 = perfect; see the module doc).

    ``proba[:, j]`` is the predicted probability of ``classes[j]``; the columns may come in any order (a
    model's ``classes_`` is usually alphabetical: Alto, Bajo, Medio): they are matched to ``order`` by
    label. ``order``: the classes from lowest to highest (default :func:`class_order` of ``classes`` and
    ``y``); a class of ``order`` the model has no column for gets probability 0.
    """
    y = np.asarray(y, dtype=object).ravel()
    if proba is None:
        raise ValidationError("the ranked probability score needs the predicted class probabilities "
                              "(predict_proba); got none")
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2 or proba.shape != (len(y), len(classes)):
        raise ValidationError(f"class probabilities of shape {proba.shape} do not match {len(y)} rows x "
                              f"{len(classes)} classes ({', '.join(map(str, classes))})")
    codes, seen = pd.factorize(pd.Series(y, dtype=object))  # each distinct label keyed once, not per row
    labels = [*classes, *seen]
    if order is None:
        order = class_order(labels)
        if order is None:
            names = ", ".join(sorted({str(c) for c in labels}))
            raise ValidationError(
                f"the ranked probability score needs ordered classes, but {names} are neither the risk "
                f"levels ({' < '.join(RISK_LABELS)}) nor numbers: code them 0..K-1 in their order",
                es=f"el puntaje de probabilidad ordinal (RPS) necesita clases ordenadas, pero {names} no son "
                   f"los niveles de riesgo ({' < '.join(RISK_LABELS)}) ni números: codifíquelas 0..K-1 en su orden")
    pos = {label_key(c): i for i, c in enumerate(order)}
    k = len(order)
    off = [str(c) for c in labels if label_key(c) not in pos] + (["missing label"] if (codes < 0).any() else [])
    if off:
        raise ValidationError(f"class {off[0]!r} is not one of the ordered classes {', '.join(map(str, order))}")
    if len(y) == 0 or k < 2:
        return float("nan")
    p = np.zeros((len(y), k))
    for j, c in enumerate(classes):  # columns by label, whatever the model's column order
        p[:, pos[label_key(c)]] += proba[:, j]
    obs = np.zeros((len(y), k))
    obs[np.arange(len(y)), np.array([pos[label_key(v)] for v in seen], dtype=int)[codes]] = 1.0
    cum = np.cumsum(p - obs, axis=1)[:, :-1]  # P(class <= j) - 1[y <= j] at the K-1 thresholds
    return float(np.mean(np.sum(cum**2, axis=1)) / (k - 1))


# -- bundles ------------------------------------------------------------------------------------
REGRESSION_METRICS = ("mae", "rmse", "r2", "poisson_deviance", "spearman", "top10_recall", "ndcg_at_100")
CLASSIFICATION_METRICS = ("rps", "macro_f1", "balanced_accuracy", "auc")
HIGHER_IS_BETTER = {"mae": False, "rmse": False, "r2": True, "poisson_deviance": False, "spearman": True,
                    "top10_recall": True, "ndcg_at_100": True, "rps": False, "macro_f1": True,
                    "balanced_accuracy": True, "auc": True}


def default_primary(task: str, order: list | None = None) -> str:
    """The metric that names the winner: ``top10_recall`` for regression / poisson; for classes the ranked
    probability score ``rps`` (lower is better) when their order is known (``order``, from
    :func:`class_order`), else ``macro_f1`` (labels with no known order)."""
    if task != "classification":
        return "top10_recall"
    return "rps" if order is not None else "macro_f1"


def regression_metrics(y: np.ndarray, p: np.ndarray, periods: np.ndarray | None = None,
                       with_deviance: bool = True) -> dict[str, float]:
    """Errors over all rows plus ranking metrics averaged over periods (all rows = one period if None)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    g = np.zeros(len(y)) if periods is None else np.asarray(periods)
    out = {"mae": mae(y, p), "rmse": rmse(y, p), "r2": r2(y, p)}
    out["poisson_deviance"] = poisson_deviance(y, p) if with_deviance and (y >= 0).all() else float("nan")
    out["spearman"] = _nanmean(per_group(spearman, y, p, g))
    out["top10_recall"] = _nanmean(per_group(top_recall, y, p, g))
    out["ndcg_at_100"] = _nanmean(per_group(ndcg_at_k, y, p, g))
    return out


def classification_metrics(y: np.ndarray, pred: np.ndarray, proba: np.ndarray, classes: list,
                           order: list | None = None) -> dict[str, float]:
    """RPS of ``proba`` (columns = ``classes``) on ``order`` (default :func:`class_order` of ``classes`` and
    ``y``; NaN for labels with no known order), macro-F1 and balanced accuracy of ``pred``, AUC."""
    if order is None:
        order = class_order([*classes, *pd.unique(pd.Series(np.asarray(y, dtype=object).ravel(), dtype=object))])
    return {"rps": rps(y, proba, classes, order) if order is not None else float("nan"),
            "macro_f1": macro_f1(y, pred), "balanced_accuracy": balanced_accuracy(y, pred),
            "auc": auc(y, proba, classes)}


def _nanmean(s: pd.Series) -> float:
    v = s.to_numpy(dtype=float)
    return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")


# -- bootstrap ----------------------------------------------------------------------------------
def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> tuple[float, float, float]:
    """Mean of per-unit ``values`` (e.g. one per period) and its percentile bootstrap interval."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
    return float(v.mean()), float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))


def paired_diff_ci(a: np.ndarray, b: np.ndarray, n_boot: int = 1000, alpha: float = 0.05,
                   seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``a - b`` over paired units (same periods) with a bootstrap interval."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    return bootstrap_ci(a[ok] - b[ok], n_boot, alpha, seed)
