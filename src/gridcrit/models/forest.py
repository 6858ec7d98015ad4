"""Random forest behind the zoo contract, saved without pickle.

sklearn has no safe file format for forests, so :meth:`RandomForestModel.save` writes every tree's
node arrays (``left_child``, ``right_child``, ``feature``, ``threshold``, ``impurity``,
``n_node_samples``, ``weighted_n_node_samples``, ``missing_go_to_left`` and the leaf ``values``)
concatenated into ``weights.safetensors`` with per-tree offsets, and loading rebuilds sklearn's
``Tree`` objects from those arrays (``Tree.__setstate__`` takes plain arrays), so reloaded
predictions are bit-identical and still run in sklearn's compiled code.

Training subsamples ``max_samples`` rows per tree (default 100k) so a million-row table trains in
minutes on one core; NaN goes to sklearn's native missing-value splits and categories become
ordinal codes.

Example::

    >>> import numpy as np, pandas as pd
    >>> from gridcrit.models.forest import RandomForestModel
    >>> X = pd.DataFrame({"a": np.arange(100.0)}); y = X["a"] ** 2
    >>> m = RandomForestModel(n_estimators=10).fit(X, y)
    >>> m.predict(X).shape
    (100,)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from safetensors.numpy import load_file, save_file

from gridcrit.models.base import TabularEncoder, ZooModel
from gridcrit.models.gbdt import _tree_matrix
from gridcrit.runtime import default_threads

_NODE_FIELDS = ("left_child", "right_child", "feature", "threshold", "impurity", "n_node_samples",
                "weighted_n_node_samples", "missing_go_to_left")


class RandomForestModel(ZooModel):
    """sklearn RandomForest (regressor or classifier) with a pickle-free safetensors format."""

    kind: ClassVar[str] = "rf"

    def __init__(self, task: str = "regression", n_estimators: int = 100, max_depth: int | None = 18,
                 min_samples_leaf: int = 10, max_features: float | str = 0.5, max_samples: int | float = 100_000,
                 max_categories: int = 256, n_jobs: int | None = None, random_state: int = 0):
        self.task = task
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.max_samples = max_samples
        self.max_categories = max_categories
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _make(self, n_rows: int):
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        ms = self.max_samples
        if isinstance(ms, int) and not isinstance(ms, bool):
            ms = None if ms >= n_rows else ms
        kw = dict(n_estimators=self.n_estimators, max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf,
                  max_features=self.max_features, max_samples=ms, n_jobs=self.n_jobs or default_threads(),
                  random_state=self.random_state)
        return RandomForestClassifier(**kw) if self.task == "classification" else RandomForestRegressor(**kw)

    def _fit(self, X, y, eval_set, sample_weight) -> None:
        self.encoder_ = TabularEncoder(self.max_categories).fit(X)
        M = _tree_matrix(self.encoder_, X)
        self.forest_ = self._make(len(M)).fit(M, y, sample_weight=sample_weight)

    def _predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        M = _tree_matrix(self.encoder_, X)
        if self.task == "classification":
            return self.forest_.predict_proba(M)
        p = self.forest_.predict(M)
        return np.clip(p, 0, None) if self.task == "poisson" else p

    @property
    def feature_importances_(self) -> np.ndarray:
        names = list(self.encoder_.num_cols) + list(self.encoder_.cat_cols)
        imp = dict(zip(names, self.forest_.feature_importances_, strict=True))
        return np.array([imp.get(str(c), 0.0) for c in self.feature_names_in_])

    # -- pickle-free persistence ------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        f = self.forest_
        return {"encoder": self.encoder_.to_json(), "n_features": int(f.n_features_in_),
                "n_outputs": int(f.n_outputs_), "n_classes": [int(c) for c in np.atleast_1d(getattr(f, "n_classes_", [1]))],
                "max_depths": [int(t.tree_.max_depth) for t in f.estimators_]}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.encoder_ = TabularEncoder.from_json(state["encoder"])
        self._forest_state = state

    def _save_weights(self, path: Path) -> list[str]:
        trees = [t.tree_.__getstate__() for t in self.forest_.estimators_]
        counts = np.array([s["node_count"] for s in trees], dtype=np.int64)
        arrays = {"node_count": counts}
        for field in _NODE_FIELDS:
            arrays[field] = np.ascontiguousarray(np.concatenate([s["nodes"][field] for s in trees]))
        arrays["values"] = np.ascontiguousarray(np.concatenate([s["values"] for s in trees]))
        save_file(arrays, str(path / "weights.safetensors"))
        return ["weights.safetensors"]

    def _load_weights(self, path: Path) -> None:
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
        from sklearn.tree._tree import NODE_DTYPE, Tree

        st = self._forest_state
        arrays = load_file(str(path / "weights.safetensors"))
        n_classes = np.array(st["n_classes"], dtype=np.intp)
        forest = self._make(10**12)
        estimators, start = [], 0
        for i, n in enumerate(arrays["node_count"].tolist()):
            nodes = np.zeros(n, dtype=NODE_DTYPE)
            for field in _NODE_FIELDS:
                nodes[field] = arrays[field][start:start + n]
            tree = Tree(st["n_features"], n_classes, st["n_outputs"])
            tree.__setstate__({"max_depth": st["max_depths"][i], "node_count": n, "nodes": nodes,
                               "values": np.ascontiguousarray(arrays["values"][start:start + n])})
            start += n
            est = DecisionTreeClassifier() if self.task == "classification" else DecisionTreeRegressor()
            est.tree_ = tree
            est.n_features_in_ = st["n_features"]
            est.n_outputs_ = st["n_outputs"]
            est.max_features_ = st["n_features"]
            if self.task == "classification":
                est.classes_ = np.arange(int(n_classes[0]))
                est.n_classes_ = int(n_classes[0])
            estimators.append(est)
        forest.estimators_ = estimators
        forest.estimator_ = estimators[0]
        forest.n_features_in_ = st["n_features"]
        forest.n_outputs_ = st["n_outputs"]
        if self.task == "classification":
            forest.classes_ = np.arange(int(n_classes[0]))
            forest.n_classes_ = int(n_classes[0])
        self.forest_ = forest
        del self._forest_state
