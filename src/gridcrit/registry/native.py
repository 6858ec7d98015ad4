"""A minimal boosted-tree model saved as native booster JSON, for the registry's own use.

The registry stores *any* model directory holding a ``model.json`` (the model zoo's format). This
small wrapper exists so that the registry, retraining and their tests do not depend on the zoo: it
trains an XGBoost or LightGBM booster, saves it as the library's own JSON/text format (never
pickle), reloads it, and can *continue* training from its booster (``continue_fit``), which is how
retraining fine-tunes boosted trees (XGBoost ``xgb_model=``, LightGBM ``init_model=``).

Example::

    >>> import numpy as np, pandas as pd
    >>> X = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) % 3})
    >>> m = NativeGBDT(library="xgboost", n_estimators=5).fit(X, X["a"] * 2)
    >>> m.predict(X).shape
    (50,)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridcrit.errors import GridcritError, ValidationError

FORMAT = "native_gbdt"
FORMAT_VERSION = 1


def _threads() -> int:
    from gridcrit.runtime import default_threads

    return default_threads()


class NativeGBDT:
    """Gradient-boosted trees (XGBoost or LightGBM) with native JSON save/load and continued training.

    Parameters
    ----------
    library: "xgboost" | "lightgbm".
    task: "regression" | "classification" | "poisson".
    n_estimators, learning_rate, max_depth, num_leaves, min_child_weight: usual booster parameters.
    seed: random seed (the booster's own; no global RNG is touched).
    """

    def __init__(
        self,
        library: str = "xgboost",
        task: str = "regression",
        n_estimators: int = 200,
        learning_rate: float = 0.1,
        max_depth: int = 6,
        num_leaves: int = 31,
        min_child_weight: float = 1.0,
        seed: int = 0,
    ):
        self.library = library
        self.task = task
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.num_leaves = num_leaves
        self.min_child_weight = min_child_weight
        self.seed = seed

    # sklearn-style parameter access (no sklearn base class needed for the registry's uses)
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "library", "task", "n_estimators", "learning_rate", "max_depth", "num_leaves",
            "min_child_weight", "seed")}

    def set_params(self, **params: Any) -> NativeGBDT:
        for k, v in params.items():
            setattr(self, k, v)
        return self

    # ------------------------------------------------------------------ training
    def _check_X(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            if hasattr(self, "feature_names_in_"):
                missing = [c for c in self.feature_names_in_ if c not in X.columns]
                if missing:
                    raise ValidationError(f"input lacks feature columns the model was trained on: {missing[:5]}")
                X = X[self.feature_names_in_]
            return X.to_numpy(dtype=np.float32, na_value=np.nan)
        return np.asarray(X, dtype=np.float32)

    def _classes_index(self, y: np.ndarray) -> np.ndarray:
        lookup = {c: i for i, c in enumerate(self.classes_)}
        try:
            return np.array([lookup[v] for v in y], dtype=np.int32)
        except KeyError as e:
            raise ValidationError(f"class {e.args[0]!r} was not seen when the model was first trained") from e

    def fit(self, X: pd.DataFrame | np.ndarray, y: Any, eval_set: Any = None, sample_weight: Any = None) -> NativeGBDT:
        """Train from scratch."""
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = [str(c) for c in X.columns]
        else:
            self.feature_names_in_ = [f"x{i}" for i in range(np.asarray(X).shape[1])]
        y = np.asarray(y)
        if self.task == "classification":
            self.classes_ = [v.item() if hasattr(v, "item") else v for v in np.unique(y)]
        self.booster_ = None
        return self._train(X, y, self.n_estimators, sample_weight)

    def continue_fit(self, X: pd.DataFrame | np.ndarray, y: Any, n_estimators: int | None = None,
                     sample_weight: Any = None) -> NativeGBDT:
        """Add ``n_estimators`` trees (default: half the original count) fitted on (X, y) to the booster."""
        if getattr(self, "booster_", None) is None:
            raise GridcritError("continue_fit needs a trained model")
        n = n_estimators if n_estimators is not None else max(1, self.n_estimators // 2)
        return self._train(X, np.asarray(y), n, sample_weight)

    def _train(self, X: Any, y: np.ndarray, n_rounds: int, sample_weight: Any) -> NativeGBDT:
        Xa = self._check_X(X)
        y_fit = self._classes_index(y) if self.task == "classification" else y.astype(np.float64)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if self.library == "xgboost":
            import xgboost as xgb

            obj = {"regression": "reg:squarederror", "poisson": "count:poisson"}.get(self.task, "multi:softprob")
            params = {"objective": obj, "eta": self.learning_rate, "max_depth": self.max_depth,
                      "min_child_weight": self.min_child_weight, "seed": self.seed, "nthread": _threads(),
                      "tree_method": "hist"}
            if self.task == "classification":
                params["num_class"] = len(self.classes_)
            d = xgb.DMatrix(Xa, label=y_fit, weight=w, feature_names=self.feature_names_in_)
            self.booster_ = xgb.train(params, d, num_boost_round=n_rounds, xgb_model=self.booster_)
        elif self.library == "lightgbm":
            import lightgbm as lgb

            obj = {"regression": "regression", "poisson": "poisson"}.get(self.task, "multiclass")
            params = {"objective": obj, "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
                      "min_child_weight": self.min_child_weight, "seed": self.seed,
                      "num_threads": _threads(), "verbose": -1, "min_data_in_leaf": 5}
            if self.task == "classification":
                params["num_class"] = len(self.classes_)
            d = lgb.Dataset(Xa, label=y_fit, weight=w, feature_name=self.feature_names_in_, free_raw_data=False)
            self.booster_ = lgb.train(params, d, num_boost_round=n_rounds, init_model=self.booster_,
                                      keep_training_booster=True)
        else:
            raise ValidationError(f"unknown library {self.library!r}; use xgboost or lightgbm")
        return self

    # ------------------------------------------------------------------ inference
    def _raw(self, X: Any) -> np.ndarray:
        Xa = self._check_X(X)
        if self.library == "xgboost":
            import xgboost as xgb

            return self.booster_.predict(xgb.DMatrix(Xa, feature_names=self.feature_names_in_))
        return self.booster_.predict(Xa, num_threads=_threads())

    def predict(self, X: Any) -> np.ndarray:
        out = self._raw(X)
        if self.task == "classification":
            return np.asarray(self.classes_, dtype=object)[np.argmax(out, axis=1)]
        return np.asarray(out, dtype=np.float64)

    def predict_proba(self, X: Any) -> np.ndarray:
        if self.task != "classification":
            raise GridcritError("predict_proba is only defined for classifiers")
        return np.asarray(self._raw(X), dtype=np.float64)

    def contributions(self, X: Any) -> np.ndarray:
        """Per-feature additive contributions (SHAP values of the trees), shape (n, n_features).

        For classifiers: the contributions to the predicted class's raw score.
        """
        Xa = self._check_X(X)
        if self.library == "xgboost":
            import xgboost as xgb

            c = self.booster_.predict(xgb.DMatrix(Xa, feature_names=self.feature_names_in_), pred_contribs=True)
        else:
            c = self.booster_.predict(Xa, pred_contrib=True, num_threads=_threads())
            if self.task == "classification":
                k = len(self.classes_)
                c = c.reshape(len(Xa), k, -1)
        c = np.asarray(c)
        if c.ndim == 3:  # (n, classes, f+1): pick the predicted class
            cls = np.argmax(self._raw(X), axis=1)
            c = c[np.arange(len(c)), cls]
        return c[:, :-1]  # drop the bias column

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> None:
        """Write ``model.json`` (config) and ``booster.json`` (XGBoost JSON) or ``booster.txt`` (LightGBM text)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        booster_file = "booster.json" if self.library == "xgboost" else "booster.txt"
        if self.library == "xgboost":
            self.booster_.save_model(str(d / booster_file))
        else:
            self.booster_.save_model(str(d / booster_file))
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "name": self.library,
                "params": self.get_params(), "feature_names": self.feature_names_in_,
                "classes": getattr(self, "classes_", None), "booster_file": booster_file}
        (d / "model.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, directory: str | Path) -> NativeGBDT:
        d = Path(directory)
        meta = json.loads((d / "model.json").read_text())
        if meta.get("format") != FORMAT:
            raise GridcritError(f"{d}/model.json is not a {FORMAT} model")
        if int(meta.get("format_version", 0)) > FORMAT_VERSION:
            raise GridcritError(f"{d}: model format version {meta['format_version']} is newer than this gridcrit")
        m = cls(**meta["params"])
        m.feature_names_in_ = meta["feature_names"]
        if meta.get("classes") is not None:
            m.classes_ = meta["classes"]
        path = d / meta["booster_file"]
        if m.library == "xgboost":
            import xgboost as xgb

            m.booster_ = xgb.Booster(params={"nthread": _threads()})
            m.booster_.load_model(str(path))
        else:
            import lightgbm as lgb

            m.booster_ = lgb.Booster(model_file=str(path))
        return m
