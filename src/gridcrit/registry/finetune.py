"""Continue training a registered model on new periods ("fine-tuning").

* Boosted trees: new trees are added to the champion's booster, fitted on the new rows (XGBoost
  ``xgb_model=``, LightGBM ``init_model=``). The champion's category vocabulary is kept, so the new
  trees split on the same encoded columns. Trees beyond the champion's early-stopping best
  iteration are dropped first (they never served).
* TabNet (and any model with a ``warm_start`` parameter): ``warm_start=True`` and ``fit`` on the new
  rows, starting from the champion's weights; optionally after self-supervised pretraining
  (``TabNetPretrainer``) on the new, unlabelled rows when the model's ``fit`` accepts a pretrainer.
* Anything else cannot be fine-tuned: :class:`CannotFinetuneError` (``mode="auto"`` then trains from
  scratch).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pandas as pd

from gridcrit.errors import GridcritError


class CannotFinetuneError(GridcritError):
    """The model kind has no way to continue training."""


def model_kind(model: Any) -> str:
    """'native_gbdt', the zoo's ``kind`` (xgboost, lightgbm, tabnet, ...) or the class name."""
    from gridcrit.registry.native import NativeGBDT

    if isinstance(model, NativeGBDT):
        return "native_gbdt"
    return str(getattr(model, "kind", type(model).__name__.lower()))


def _encode_y(model: Any, y: Any) -> np.ndarray:
    y = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if getattr(model, "task", "regression") == "classification":
        return model.codec_.encode(y)
    # the booster was fitted on y / y_scale_ (gbdt.target_scale: SAIFI-sized targets near 1); new rows in
    # raw units would be ~1e-4 of what its trees predict, and the added trees would learn nothing
    return y.astype(float) / float(getattr(model, "y_scale_", 1.0))


def _continue_zoo_xgboost(model: Any, X: pd.DataFrame, y: Any, rounds: int) -> Any:
    import xgboost as xgb

    from gridcrit.models.gbdt import _tree_matrix

    X = model._prepare(X)
    base = model.booster_[: model.best_iteration_ + 1]  # only the trees that served
    d = model._dmatrix(_tree_matrix(model.encoder_, X), _encode_y(model, y))
    # objective and num_class come from the booster's own saved configuration
    params = {"tree_method": "hist", "eta": model.learning_rate, "max_depth": model.max_depth,
              "min_child_weight": model.min_child_weight, "subsample": model.subsample,
              "colsample_bytree": model.colsample_bytree, "lambda": model.reg_lambda,
              "nthread": model._threads, "seed": model.random_state}
    model.booster_ = xgb.train(params, d, num_boost_round=rounds, xgb_model=base, verbose_eval=False)
    model.n_iterations_ = model.booster_.num_boosted_rounds()
    model.best_iteration_ = model.n_iterations_ - 1
    return model


def _continue_zoo_lightgbm(model: Any, X: pd.DataFrame, y: Any, rounds: int) -> Any:
    import lightgbm as lgb

    from gridcrit.models.gbdt import _tree_matrix

    X = model._prepare(X)
    base = lgb.Booster(model_str=model.booster_.model_to_string(num_iteration=model.best_iteration_ + 1))
    M = _tree_matrix(model.encoder_, X)
    params: dict[str, Any] = {
        "learning_rate": model.learning_rate, "num_leaves": model.num_leaves,
        "min_child_samples": model.min_child_samples, "bagging_fraction": model.subsample,
        "bagging_freq": 1 if model.subsample < 1 else 0, "feature_fraction": model.colsample_bytree,
        "lambda_l2": model.reg_lambda, "max_bin": model.max_bin, "num_threads": model._threads,
        "seed": model.random_state, "verbosity": -1, "deterministic": True, "force_row_wise": True,
    }
    if model.task == "classification":
        k = len(model.codec_.classes)
        params.update({"objective": "binary"} if k == 2 else {"objective": "multiclass", "num_class": k})
    else:
        params["objective"] = "poisson" if model.task == "poisson" else "regression"
    n_num = len(model.encoder_.num_cols)
    cats = list(range(n_num, n_num + len(model.encoder_.cat_cols)))
    names = [f"c{i}" for i in range(M.shape[1])]
    d = lgb.Dataset(M, label=_encode_y(model, y), feature_name=names, categorical_feature=cats)
    model.booster_ = lgb.train(params, d, num_boost_round=rounds, init_model=base)
    model.n_iterations_ = model.booster_.current_iteration()
    model.best_iteration_ = model.n_iterations_ - 1
    return model


def continue_training(
    model: Any,
    X: pd.DataFrame,
    y: Any,
    *,
    rounds: int | None = None,
    eval_set: list[tuple[Any, Any]] | None = None,
    unlabelled: pd.DataFrame | None = None,
    pretrain: bool = False,
) -> tuple[Any, str]:
    """Fine-tune ``model`` in place on (X, y). Returns (model, description of what was done).

    ``rounds``: trees to add for boosted trees (default: a quarter of the champion's trees, >= 20).
    ``unlabelled`` + ``pretrain``: self-supervised pretraining on these rows first (TabNet only).
    """
    kind = model_kind(model)
    if kind == "native_gbdt":
        n = rounds or max(20, model.n_estimators // 4)
        model.continue_fit(X, y, n_estimators=n)
        return model, f"added {n} trees to the {model.library} booster"
    if kind in ("xgboost", "lightgbm") and hasattr(model, "booster_"):
        n = rounds or max(20, (model.best_iteration_ + 1) // 4)
        fn = _continue_zoo_xgboost if kind == "xgboost" else _continue_zoo_lightgbm
        fn(model, X, y, n)
        return model, f"added {n} trees to the {kind} booster"
    if kind == "tabnet" and hasattr(model, "net_"):
        return _continue_zoo_tabnet(model, X, y, epochs=rounds, unlabelled=unlabelled if pretrain else None)
    params = model.get_params() if hasattr(model, "get_params") else {}
    if "warm_start" in params:
        how = "warm-started from the champion's weights"
        fit_kwargs: dict[str, Any] = {}
        if pretrain and unlabelled is not None and len(unlabelled):
            pre = _pretrain(model, unlabelled)
            if pre is not None:
                sig = inspect.signature(model.fit).parameters
                key = next((k for k in ("from_unsupervised", "pretrainer", "pretrained") if k in sig), None)
                if key:
                    fit_kwargs[key] = pre
                    how += f" after self-supervised pretraining on {len(unlabelled)} unlabelled rows"
        model.set_params(warm_start=True)
        if eval_set is not None:
            fit_kwargs["eval_set"] = eval_set
        model.fit(X, y, **fit_kwargs)
        model.set_params(warm_start=False)
        return model, how
    raise CannotFinetuneError(f"model kind {kind!r} cannot continue training; use --mode scratch (or auto)")


def _continue_zoo_tabnet(model: Any, X: pd.DataFrame, y: Any, epochs: int | None,
                         unlabelled: pd.DataFrame | None) -> tuple[Any, str]:
    """The zoo's TabNet wrapper: keep its input encoder, continue its network's weights.

    10 % of the new rows (seeded) are the early-stopping set. With ``unlabelled``, a
    ``TabNetPretrainer`` of the same architecture is first fitted on those rows and the network
    starts from its encoder instead (TabNet's ``from_pretrained``; it cannot also keep the champion's
    weights).
    """
    X = model._prepare(X)
    y_arr = _encode_y(model, y)
    net = model.net_
    wants_2d = bool(getattr(model, "_wants_2d", lambda: False)()) if model.task != "classification" else False
    rng = np.random.default_rng(getattr(model, "random_state", 0))
    perm = rng.permutation(len(X))
    n_val = max(1, len(X) // 10)
    va, tr = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    # the network must see what it was trained on: the zoo wrapper log-transforms heavy-tailed columns
    # (``network_input``, fixed at the first fit) before TabNet, or hands it its own encoded matrix
    to_net = getattr(model, "network_input", None) or (lambda frame: frame)
    matrix = getattr(model, "_matrix", None) or (lambda frame: frame)

    def encode(frame: pd.DataFrame) -> Any:
        return matrix(to_net(frame))

    M = encode(X)

    def rows(idx: np.ndarray) -> Any:
        return M.iloc[idx] if isinstance(M, pd.DataFrame) else M[idx]

    def shape(v: np.ndarray) -> np.ndarray:
        return v.reshape(-1, 1) if wants_2d else v

    # a seed ensemble continues every member the same way (each on the same rows, its own weights)
    nets = list(getattr(net, "members_", [net]))
    first = nets[0]
    old_epochs = first.max_epochs
    n_epochs = epochs or max(5, int(old_epochs) // 4)
    kw: dict[str, Any] = {"eval_set": [(rows(va), shape(y_arr[va]))]}
    what = "TabNet weights" if len(nets) == 1 else f"{len(nets)} TabNet members' weights"
    how = f"warm-started the champion's {what} for up to {n_epochs} epochs"
    if unlabelled is not None and len(unlabelled):
        from gridcrit.models.tabnet import TabNetPretrainer

        arch = {k: v for k, v in first.get_params().items() if k in TabNetPretrainer()._get_param_names()
                and k != "warm_start"}
        pre = TabNetPretrainer(**arch).fit(encode(model._prepare(unlabelled)))
        kw["from_pretrained"] = pre
        how = (f"self-supervised pretraining on {len(unlabelled)} unlabelled new rows, then "
               f"fine-tuned {'' if len(nets) == 1 else f'{len(nets)} members '}for up to {n_epochs} epochs")
    for m in nets:
        m.set_params(max_epochs=n_epochs, warm_start="from_pretrained" not in kw)
        try:
            m.fit(rows(tr), shape(y_arr[tr]), **kw)
        finally:
            m.set_params(warm_start=False, max_epochs=old_epochs)
    return model, how


def _pretrain(model: Any, unlabelled: pd.DataFrame) -> Any:
    """A TabNetPretrainer fitted on ``unlabelled`` with the model's architecture, or None."""
    try:
        from gridcrit.models.tabnet import TabNetPretrainer
    except ImportError:
        return None
    arch = {k: v for k, v in model.get_params().items()
            if k in inspect.signature(TabNetPretrainer).parameters}
    pre = TabNetPretrainer(**arch)
    pre.fit(unlabelled)
    return pre
