"""One entry point for feature attributions of any model of the zoo: :func:`attribute`.

Methods (``method=``):

* ``"tabnet"`` — TabNet's attentive masks: per-row importances ``Σ_i η_i M_i`` (rows sum to 1) and
  the per-step masks ``[steps, n, f]``. Unsigned: they say *where the model looked*, not which way.
* ``"treeshap"`` — exact TreeSHAP of XGBoost/LightGBM from the libraries' native contributions
  (``pred_contribs`` / ``pred_contrib``). Signed, additive: row sum + bias = raw prediction.
  ``approximate=True`` is the fast mode: Saabas contributions (one path per tree, ~depth× cheaper,
  still additive) — XGBoost's ``approx_contribs``, and for LightGBM, which has no such mode, our
  leaf-table implementation in :mod:`gridcrit.explain.saabas`.
* ``"ig"`` — integrated gradients of the torch models (TabNet, MLP, FT-Transformer): straight path from the
  training mean (numbers, standardised 0) and the "unknown" embedding (categories) to the row, midpoint
  Riemann sum with ``ig_steps`` points. Signed; NaN-indicator inputs are folded into their column.
* ``"permutation"`` — any model: each column shuffled ``n_repeats`` times. Per row: mean absolute change
  of the prediction (unsigned); global: increase of the loss when ``y`` is given (else mean row value).
* ``"auto"`` — tabnet for TabNet, treeshap for boosted trees, ig for torch models, else permutation.

Signed methods are compared with masks through ``|values|`` (see :mod:`gridcrit.explain.agreement`).
Columns always come back in the order of ``X``.

Example::

    >>> import numpy as np, pandas as pd
    >>> from gridcrit.models.zoo import make_model
    >>> X = pd.DataFrame({"a": np.arange(200.0) % 7, "b": np.zeros(200)})
    >>> m = make_model("xgboost", n_estimators=20).fit(X, X["a"] * 2)
    >>> att = attribute(m, X)
    >>> att.method, att.values.shape, att.top_features(0, k=1)
    ('treeshap', (200, 2), ['a'])
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gridcrit.errors import ValidationError
from gridcrit.explain.permutation import model_task, permutation_attributions

METHODS = ("auto", "tabnet", "treeshap", "ig", "permutation")


@dataclass
class Attribution:
    """Attributions of ``n`` rows over ``f`` features.

    ``values`` [n, f] (signed for treeshap/ig, non-negative for tabnet/permutation);
    ``global_importance`` [f] non-negative, sums to 1; ``masks`` [steps, n, f] (TabNet only);
    ``per_class`` class label -> [f] global importance (classifiers); ``bias`` [n] expected value
    (treeshap) so that ``values.sum(1) + bias`` is the raw score explained.
    """

    values: np.ndarray
    feature_names: list[str]
    method: str
    signed: bool
    global_importance: np.ndarray
    masks: np.ndarray | None = None
    per_class: dict[str, np.ndarray] = field(default_factory=dict)
    explained_class: np.ndarray | None = None
    bias: np.ndarray | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def magnitude(self) -> np.ndarray:
        """Unsigned per-row attributions ``|values|`` (what masks are compared with)."""
        return np.abs(self.values)

    def top_features(self, row: int, k: int = 3) -> list[str]:
        """Names of the ``k`` features with the largest |attribution| in ``row``."""
        order = np.argsort(-self.magnitude[row], kind="stable")[:k]
        return [self.feature_names[j] for j in order]

    def global_ranking(self) -> list[str]:
        order = np.argsort(-self.global_importance, kind="stable")
        return [self.feature_names[j] for j in order]

    def to_dict(self, rows: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": self.method, "signed": self.signed, "n_rows": int(self.values.shape[0]),
            "seconds": round(self.seconds, 4), "notes": self.notes,
            "global": {n: float(v) for n, v in zip(self.feature_names, self.global_importance, strict=True)},
            "per_class": {str(c): {n: float(v) for n, v in zip(self.feature_names, imp, strict=True)}
                          for c, imp in self.per_class.items()},
        }
        if rows:
            out["values"] = self.values.tolist()
        return out


def contrastive(values: np.ndarray, reference: np.ndarray | None = None, alpha: float = 1.0) -> np.ndarray:
    """Baseline-relative per-row importances: ``|v| + alpha · (|v| − mean_ref |v|)``.

    Masks and |SHAP| rank features by absolute weight, so features every row relies on (x11 in
    Syn4–6, history in the twin) crowd the top of every row and per-row lists look like the global
    ranking. SHAP values are relative to the average prediction; this is the same idea for
    unsigned weights: how much *more* this row relies on a feature than the average row does (the
    ``reference`` rows; default the rows themselves), with ``|v|`` kept as the tie-breaker. It uses
    no labels or truth. ``alpha`` is fixed at 1 (chosen before any benchmark was run, not tuned).
    """
    mag = np.abs(np.asarray(values, dtype=float))
    ref = mag if reference is None else np.abs(np.asarray(reference, dtype=float))
    return mag + alpha * (mag - np.nanmean(ref, axis=0, keepdims=True))


def _normalise(v: np.ndarray) -> np.ndarray:
    v = np.abs(np.asarray(v, dtype=float))
    s = v.sum()
    return v / s if s > 0 else v


def _model_kind(model: Any) -> str:
    from gridcrit.registry.native import NativeGBDT

    if isinstance(model, NativeGBDT):
        return "native_gbdt"
    kind = getattr(model, "kind", None)
    if isinstance(kind, str) and kind not in ("base", "gbdt", "neural"):
        return kind
    if hasattr(model, "explain") and hasattr(model, "network_"):
        return "tabnet_raw"
    return type(model).__name__.lower()


def auto_method(model: Any) -> str:
    """The natural attribution method of ``model`` (see module docstring)."""
    kind = _model_kind(model)
    if kind in ("tabnet", "tabnet_raw"):
        return "tabnet"
    if kind in ("xgboost", "lightgbm", "native_gbdt"):
        return "treeshap"
    if kind in ("mlp", "ft_transformer") or hasattr(model, "module_"):
        return "ig"
    return "permutation"


def _as_frame(model: Any, X: Any) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    names = getattr(model, "feature_names_in_", None)
    pre = getattr(getattr(model, "net_", model), "preprocessor_", None)
    if names is None and pre is not None:  # a TabNet fitted on an array names its columns itself; X is positional
        names = pre.feature_names
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValidationError(f"X must be a 2-D table, got shape {arr.shape}")
    cols = [str(c) for c in names] if names is not None and len(names) == arr.shape[1] else \
        [f"f{i}" for i in range(arr.shape[1])]
    return pd.DataFrame(arr, columns=cols)


def _predicted_class(model: Any, X: pd.DataFrame) -> np.ndarray | None:
    if model_task(model) == "classification":
        try:
            return np.argmax(np.asarray(model.predict_proba(X)), axis=1)
        except Exception:  # a model that says it classifies but has no usable predict_proba
            return None
    return None


def _classes(model: Any) -> list[str]:
    cls = getattr(model, "classes_", None)
    if cls is None:
        cls = getattr(getattr(model, "net_", None), "classes_", None)
    return [str(c) for c in cls] if cls is not None else []


def _per_class_from_rows(mag: np.ndarray, pred: np.ndarray | None, classes: list[str]) -> dict[str, np.ndarray]:
    """Class -> normalised mean |attribution| over the rows predicted as that class."""
    if pred is None or not classes:
        return {}
    out = {}
    for i, c in enumerate(classes):
        rows = pred == i
        if rows.any():
            out[c] = _normalise(mag[rows].mean(axis=0))
    return out


# ------------------------------------------------------------------------------------------ TabNet
def _tabnet_input(model: Any, X: pd.DataFrame, method: str) -> tuple[Any, pd.DataFrame, list[int]]:
    """``(TabNet estimator, X as it sees it, position of each column of X in its feature order)``.

    The zoo wrapper transforms columns before its ``net_`` (log of heavy tails), so masks and
    gradients must see the transformed frame; the estimator answers in its training order."""
    est = getattr(model, "net_", model)
    if not hasattr(est, "explain"):
        raise ValidationError(f"method {method!r} needs a TabNet model, got {type(model).__name__}")
    Xn = model.network_input(X) if hasattr(model, "network_input") else X
    names = [str(c) for c in est.preprocessor_.feature_names]
    missing = [str(c) for c in X.columns if str(c) not in names]
    if missing or len(names) != X.shape[1]:
        raise ValidationError(f"TabNet was trained on {len(names)} features; X has {X.shape[1]} columns"
                              + (f" ({', '.join(missing)} unknown)" if missing else ""))
    return est, est.preprocessor_.align(Xn), [names.index(str(c)) for c in X.columns]


def _tabnet(model: Any, X: pd.DataFrame) -> Attribution:
    est, Xn, order = _tabnet_input(model, X, "tabnet")
    imp, masks = est.explain(Xn)
    imp, masks = np.asarray(imp, dtype=float)[:, order], np.asarray(masks)[:, :, order]
    pred = _predicted_class(model, X)
    return Attribution(imp, list(map(str, X.columns)), "tabnet", False, _normalise(imp.mean(axis=0)),
                       masks=masks, per_class=_per_class_from_rows(imp, pred, _classes(model)),
                       explained_class=pred)


# ---------------------------------------------------------------------------------------- TreeSHAP
def _treeshap(model: Any, X: pd.DataFrame, approximate: bool) -> Attribution:
    kind = _model_kind(model)
    notes: list[str] = []
    if kind == "native_gbdt":
        if approximate:
            notes.append("approximate mode not available for this model; exact TreeSHAP used")
        c = np.asarray(model.contributions(X), dtype=float)
        pred = _predicted_class(model, X)
        mag = np.abs(c)
        # its contributions come without the bias column: recover it from the prediction (regression:
        # prediction = bias + Σ; poisson: log prediction = bias + Σ); classifiers keep none
        bias = None
        task = getattr(model, "task", None)
        if task in ("regression", "poisson"):
            p = np.asarray(model.predict(X), dtype=float)
            with np.errstate(divide="ignore"):
                bias = (np.log(p) if task == "poisson" else p) - c.sum(1)
        return Attribution(c, list(map(str, X.columns)), "treeshap", True, _normalise(mag.mean(0)),
                           per_class=_per_class_from_rows(mag, pred, _classes(model)), explained_class=pred,
                           bias=bias, notes=notes)
    if kind not in ("xgboost", "lightgbm"):
        raise ValidationError(f"method 'treeshap' needs an XGBoost or LightGBM model, got {type(model).__name__}")
    from gridcrit.models.gbdt import _tree_matrix

    Xp = model._prepare(X)
    M = _tree_matrix(model.encoder_, Xp)
    # configure_threads() caps OpenMP at GRIDCRIT_THREADS, which silently overrides the booster's own
    # thread count (measured: n_jobs=2 ran on one thread); lift the cap to the model's n_jobs here.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(model._threads), user_api="openmp"):
        c = _tree_contribs(model, kind, M, approximate, notes)
    return _treeshap_result(model, X, c, approximate, notes)


def _tree_contribs(model: Any, kind: str, M: np.ndarray, approximate: bool, notes: list[str]) -> np.ndarray:
    if kind == "xgboost":
        c = model.booster_.predict(model._dmatrix(M), pred_contribs=True, approx_contribs=bool(approximate),
                                   iteration_range=(0, model.best_iteration_ + 1))
    else:
        k = len(model.codec_.classes) if model.task == "classification" else 1
        if approximate:  # LightGBM has no approximate mode of its own: Saabas from leaf tables
            from gridcrit.explain.saabas import lightgbm_saabas

            c = lightgbm_saabas(model.booster_, M, model.best_iteration_ + 1, n_classes=k)
        else:
            c = model.booster_.predict(M, pred_contrib=True, num_iteration=model.best_iteration_ + 1,
                                       num_threads=model._threads)
        if k > 2:
            c = np.asarray(c).reshape(len(M), k, -1)
    return np.asarray(c, dtype=float)


def _treeshap_result(model: Any, X: pd.DataFrame, c: np.ndarray, approx: bool, notes: list[str]) -> Attribution:
    names = list(model._feature_names)
    order = [names.index(str(col)) for col in X.columns]
    classes = _classes(model)
    per_class: dict[str, np.ndarray] = {}
    pred = _predicted_class(model, X)
    if c.ndim == 3:  # multiclass [n, k, f+1]: per-class importances from each class's own contributions
        for i, cl in enumerate(classes):
            per_class[cl] = _normalise(np.abs(c[:, i, :-1][:, order]).mean(0))
        rows = c[np.arange(len(c)), pred]
    else:
        rows = c
        if pred is not None:
            per_class = _per_class_from_rows(np.abs(rows[:, :-1][:, order]), pred, classes)
    vals, bias = rows[:, :-1][:, order], rows[:, -1]
    # the zoo's GBDTs fit y / y_scale_ (SAIFI is ~1e-4): put the contributions back in the target's units
    # (regression: prediction = raw · scale) or the log rate (poisson: prediction = exp(raw) · scale), so
    # that row sum + bias is the prediction (regression) or its log (poisson), as documented
    scale = float(getattr(model, "y_scale_", 1.0) or 1.0)
    if scale != 1.0 and getattr(model, "task", None) == "regression":
        vals, bias = vals * scale, bias * scale
    elif scale != 1.0 and getattr(model, "task", None) == "poisson":
        bias = bias + np.log(scale)
    return Attribution(vals, list(map(str, X.columns)), "treeshap-approx" if approx else "treeshap", True,
                       _normalise(np.abs(vals).mean(0)), per_class=per_class, explained_class=pred,
                       bias=bias, notes=notes)


# ------------------------------------------------------------------------------ integrated gradients
def _ig(model: Any, X: pd.DataFrame, steps: int, batch_rows: int) -> Attribution:
    from gridcrit.explain.integrated_gradients import integrated_gradients, tabnet_integrated_gradients

    kind = _model_kind(model)
    if kind not in ("tabnet", "tabnet_raw") and (not hasattr(model, "module_") or not hasattr(model, "encoder_")):
        raise ValidationError(f"method 'ig' needs a torch model of the zoo (tabnet, mlp, ft_transformer), "
                              f"got {type(model).__name__}")
    pred = _predicted_class(model, X)
    if kind in ("tabnet", "tabnet_raw"):
        est, Xn, order = _tabnet_input(model, X, "ig")
        vals = tabnet_integrated_gradients(est, Xn, steps=steps, batch_rows=batch_rows, target=pred)[:, order]
    else:
        vals = integrated_gradients(model, X, steps=steps, batch_rows=batch_rows, target=pred)
    mag = np.abs(vals)
    return Attribution(vals, list(map(str, X.columns)), "ig", True, _normalise(mag.mean(0)),
                       per_class=_per_class_from_rows(mag, pred, _classes(model)), explained_class=pred)


# ------------------------------------------------------------------------------------- permutation
def _permutation(model: Any, X: pd.DataFrame, y: Any, n_repeats: int, seed: int) -> Attribution:
    rows, glob = permutation_attributions(model, X, y, n_repeats=n_repeats, seed=seed)
    pred = _predicted_class(model, X)
    return Attribution(rows, list(map(str, X.columns)), "permutation", False, _normalise(glob),
                       per_class=_per_class_from_rows(rows, pred, _classes(model)), explained_class=pred,
                       notes=[] if y is not None else ["no y given: global = mean per-row prediction change"])


def attribute(model: Any, X: Any, method: str = "auto", *, y: Any = None, approximate: bool = False,
              ig_steps: int = 32, batch_rows: int = 256, n_repeats: int = 3, seed: int = 0) -> Attribution:
    """Per-row attributions and global importances of ``model`` on ``X`` with ``method``.

    ``y`` is only used by ``permutation`` (global loss increase). ``approximate`` selects the fast
    approximate (Saabas) contributions of XGBoost/LightGBM. Raises :class:`ValidationError` for a method the model lacks.
    """
    if method not in METHODS:
        raise ValidationError(f"unknown attribution method {method!r}; choose one of {', '.join(METHODS)}")
    X = _as_frame(model, X)
    if len(X) == 0:
        raise ValidationError("X has no rows to explain")
    if method == "auto":
        method = auto_method(model)
    t0 = time.perf_counter()
    if method == "tabnet":
        att = _tabnet(model, X)
    elif method == "treeshap":
        att = _treeshap(model, X, approximate)
    elif method == "ig":
        att = _ig(model, X, ig_steps, batch_rows)
    else:
        att = _permutation(model, X, y, n_repeats, seed)
    att.seconds = time.perf_counter() - t0
    return att
