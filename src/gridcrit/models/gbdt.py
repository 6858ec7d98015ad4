"""Gradient-boosted trees: XGBoost and LightGBM behind the zoo contract.

Both use native categorical splits: string/category columns become integer codes (vocabulary learnt
on the training rows, unknown/missing -> NaN) declared as categorical to the library, so no one-hot
blow-up. Early stopping runs on ``eval_set`` and the best iteration is saved in ``model.json``:
a raw XGBoost ``Booster`` reloaded from JSON would otherwise predict with *all* trees, so
prediction always passes ``iteration_range=(0, best_iteration + 1)``. Threads are explicit
(``n_jobs``, default :func:`gridcrit.runtime.default_threads`): OpenMP's default of all cores made
training 24-220x slower on a busy 2-core machine.

Example::

    >>> import numpy as np, pandas as pd
    >>> from gridcrit.models.gbdt import XGBoostModel
    >>> X = pd.DataFrame({"a": np.arange(200.0), "c": ["x", "y"] * 100})
    >>> y = X["a"] * 2 + (X["c"] == "x") * 10
    >>> m = XGBoostModel(n_estimators=50).fit(X, y)
    >>> float(abs(m.predict(X) - y).mean()) < 5
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from gridcrit.models.base import TabularEncoder, ZooModel
from gridcrit.runtime import default_threads


def _tree_matrix(enc: TabularEncoder, X: pd.DataFrame) -> np.ndarray:
    """Numeric columns (NaN kept) then categorical codes as floats (unknown/missing -> NaN)."""
    num = enc.numeric_raw(X)
    codes = enc.codes(X).astype(float) - 1.0  # 0-based category ids
    codes[codes < 0] = np.nan
    return np.hstack([num, codes]) if codes.shape[1] else num


def target_scale(y: np.ndarray, task: str) -> float:
    """Divisor that brings a regression/poisson target near 1 (SAIFI contributions are ~1e-6, which
    starves float32 gradients and makes Poisson boosting crawl from its start value). Integer counts
    keep scale 1."""
    if task == "classification":
        return 1.0
    if task == "poisson":
        if np.allclose(y, np.round(y)):
            return 1.0
        m = float(np.mean(y))
        return m if m > 0 else 1.0
    sd = float(np.std(y))
    return sd if sd > 0 else 1.0


class _GBDTBase(ZooModel):
    kind: ClassVar[str] = "gbdt"

    def _scaled(self, y: np.ndarray, eval_set):
        self.y_scale_ = target_scale(y, self.task)
        if self.y_scale_ == 1.0:
            return y, eval_set
        ev = None if eval_set is None else (eval_set[0], eval_set[1] / self.y_scale_)
        return y / self.y_scale_, ev

    def _encode_fit(self, X: pd.DataFrame) -> np.ndarray:
        self.encoder_ = TabularEncoder(max_categories=self.max_categories).fit(X)
        return _tree_matrix(self.encoder_, X)

    @property
    def _feature_names(self) -> list[str]:
        return list(self.encoder_.num_cols) + list(self.encoder_.cat_cols)

    def _state(self) -> dict[str, Any]:
        return {"encoder": self.encoder_.to_json(), "best_iteration": int(self.best_iteration_),
                "n_iterations": int(self.n_iterations_), "y_scale": self.y_scale_}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.encoder_ = TabularEncoder.from_json(state["encoder"])
        self.best_iteration_ = state["best_iteration"]
        self.n_iterations_ = state["n_iterations"]
        self.y_scale_ = state.get("y_scale", 1.0)

    @property
    def feature_importances_(self) -> np.ndarray:
        """Gain importances in the order of ``feature_names_in_``."""
        gains = self._gain_by_name()
        imp = np.array([gains.get(str(c), 0.0) for c in self.feature_names_in_], dtype=float)
        return imp / imp.sum() if imp.sum() > 0 else imp

    def _gain_by_name(self) -> dict[str, float]:
        raise NotImplementedError


class XGBoostModel(_GBDTBase):
    """XGBoost (hist) with native categoricals and early stopping on ``eval_set``."""

    kind: ClassVar[str] = "xgboost"

    def __init__(self, task: str = "regression", n_estimators: int = 600, learning_rate: float = 0.05,
                 max_depth: int = 6, min_child_weight: float = 1.0, subsample: float = 0.8,
                 colsample_bytree: float = 0.8, reg_lambda: float = 1.0, max_bin: int = 256,
                 early_stopping_rounds: int = 50, max_categories: int = 256, n_jobs: int | None = None,
                 random_state: int = 0):
        self.task = task
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.early_stopping_rounds = early_stopping_rounds
        self.max_categories = max_categories
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _dmatrix(self, M: np.ndarray, y: np.ndarray | None = None, w: np.ndarray | None = None):
        import xgboost as xgb

        types = ["q"] * len(self.encoder_.num_cols) + ["c"] * len(self.encoder_.cat_cols)
        return xgb.DMatrix(M, label=y, weight=w, feature_names=self._feature_names, feature_types=types,
                           enable_categorical=True, nthread=self._threads)

    @property
    def _threads(self) -> int:
        return self.n_jobs or default_threads()

    def _fit(self, X, y, eval_set, sample_weight) -> None:
        import xgboost as xgb

        M = self._encode_fit(X)
        y, eval_set = self._scaled(y, eval_set)
        params: dict[str, Any] = {
            "tree_method": "hist", "eta": self.learning_rate, "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight, "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree, "lambda": self.reg_lambda, "max_bin": self.max_bin,
            "nthread": self._threads, "seed": self.random_state, "max_cat_to_onehot": 4,
        }
        if self.task == "classification":
            k = len(self.codec_.classes)
            params.update({"objective": "binary:logistic", "eval_metric": "logloss"} if k == 2 else
                          {"objective": "multi:softprob", "num_class": k, "eval_metric": "mlogloss"})
        elif self.task == "poisson":
            params.update({"objective": "count:poisson", "eval_metric": "poisson-nloglik",
                           "max_delta_step": 0.7})
        else:
            params.update({"objective": "reg:squarederror", "eval_metric": "rmse"})
        dtrain = self._dmatrix(M, y, sample_weight)
        evals, es = [], None
        if eval_set is not None:
            evals = [(self._dmatrix(_tree_matrix(self.encoder_, eval_set[0]), eval_set[1]), "valid")]
            es = self.early_stopping_rounds
        self.booster_ = xgb.train(params, dtrain, num_boost_round=self.n_estimators, evals=evals,
                                  early_stopping_rounds=es, verbose_eval=False)
        self.n_iterations_ = self.booster_.num_boosted_rounds()
        best = getattr(self.booster_, "best_iteration", None) if es else None
        self.best_iteration_ = int(best) if best is not None else self.n_iterations_ - 1

    def _predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        d = self._dmatrix(_tree_matrix(self.encoder_, X))
        p = self.booster_.predict(d, iteration_range=(0, self.best_iteration_ + 1))
        if self.task == "classification" and p.ndim == 1:
            p = np.column_stack([1 - p, p])
        return p if self.task == "classification" else p * self.y_scale_

    def _save_weights(self, path: Path) -> list[str]:
        self.booster_.save_model(str(path / "booster.json"))
        return ["booster.json"]

    def _load_weights(self, path: Path) -> None:
        import xgboost as xgb

        self.booster_ = xgb.Booster()
        self.booster_.load_model(str(path / "booster.json"))
        self.booster_.set_param({"nthread": self._threads})

    def _gain_by_name(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.booster_.get_score(importance_type="total_gain").items()}


class LightGBMModel(_GBDTBase):
    """LightGBM with native categoricals and early stopping on ``eval_set``.

    Uses ``lgb.train`` with ``valid_sets`` + the ``early_stopping`` callback, which avoids the
    sklearn wrapper's ``eval_set`` argument deprecated in LightGBM 4.7 (``eval_X``/``eval_y``).
    """

    kind: ClassVar[str] = "lightgbm"

    def __init__(self, task: str = "regression", n_estimators: int = 600, learning_rate: float = 0.05,
                 num_leaves: int = 31, min_child_samples: int = 20, subsample: float = 0.8,
                 colsample_bytree: float = 0.8, reg_lambda: float = 1.0, max_bin: int = 255,
                 early_stopping_rounds: int = 50, max_categories: int = 256, n_jobs: int | None = None,
                 random_state: int = 0):
        self.task = task
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.early_stopping_rounds = early_stopping_rounds
        self.max_categories = max_categories
        self.n_jobs = n_jobs
        self.random_state = random_state

    @property
    def _threads(self) -> int:
        return self.n_jobs or default_threads()

    def _fit(self, X, y, eval_set, sample_weight) -> None:
        import lightgbm as lgb

        M = self._encode_fit(X)
        y, eval_set = self._scaled(y, eval_set)
        params: dict[str, Any] = {
            "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples, "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0, "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda, "max_bin": self.max_bin, "num_threads": self._threads,
            "seed": self.random_state, "verbosity": -1, "deterministic": True, "force_row_wise": True,
        }
        if self.task == "classification":
            k = len(self.codec_.classes)
            params.update({"objective": "binary"} if k == 2 else {"objective": "multiclass", "num_class": k})
        elif self.task == "poisson":
            params.update({"objective": "poisson"})
        else:
            params.update({"objective": "regression"})
        n_num = len(self.encoder_.num_cols)
        cats = list(range(n_num, n_num + len(self.encoder_.cat_cols)))
        names = [f"c{i}" for i in range(M.shape[1])]  # LightGBM rejects some characters in names
        dtrain = lgb.Dataset(M, label=y, weight=sample_weight, feature_name=names, categorical_feature=cats,
                             free_raw_data=True)
        valid, callbacks = [], []
        if eval_set is not None:
            valid = [lgb.Dataset(_tree_matrix(self.encoder_, eval_set[0]), label=eval_set[1], reference=dtrain)]
            callbacks = [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
        self.booster_ = lgb.train(params, dtrain, num_boost_round=self.n_estimators, valid_sets=valid,
                                  callbacks=callbacks)
        self.n_iterations_ = self.booster_.current_iteration()
        best = self.booster_.best_iteration if valid else 0
        self.best_iteration_ = (best if best and best > 0 else self.n_iterations_) - 1

    def _predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        p = self.booster_.predict(_tree_matrix(self.encoder_, X), num_iteration=self.best_iteration_ + 1,
                                  num_threads=self._threads)
        if self.task == "classification" and p.ndim == 1:
            p = np.column_stack([1 - p, p])
        return p if self.task == "classification" else p * self.y_scale_

    def _save_weights(self, path: Path) -> list[str]:
        # Only the trees up to the best iteration are written, so the text model alone predicts right.
        self.booster_.save_model(str(path / "lightgbm.txt"), num_iteration=self.best_iteration_ + 1)
        return ["lightgbm.txt"]

    def _load_weights(self, path: Path) -> None:
        import lightgbm as lgb

        self.booster_ = lgb.Booster(model_file=str(path / "lightgbm.txt"))

    def _gain_by_name(self) -> dict[str, float]:
        gains = self.booster_.feature_importance(importance_type="gain")
        return {n: float(g) for n, g in zip(self._feature_names, gains, strict=True)}
