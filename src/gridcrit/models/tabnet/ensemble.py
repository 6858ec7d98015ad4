"""Seed ensembles of TabNet: the same network trained ``n_members`` times with different seeds.

One TabNet's per-row masks carry seed noise: small effects it happened to learn from noise features,
steps that read another branch's features and gate them off inside (``docs/tabnet.md``, "Where the
masks fall short"). Those differ from seed to seed; what the data really drives does not. Averaging
the members' row-normalised importances keeps the second and washes out the first, and averaging
their probabilities is the usual ensemble gain. Measured on Syn4/Syn5 (10k rows): one model's
branch precision .53–.74, twelve members ≥ .8 (``docs/tabnet.md``) — at twelve times the training.

::

    X ─┬─► TabNet(seed·100 + 0) ─► p₀, importances₀ ─┐
       ├─► TabNet(seed·100 + 1) ─► p₁, importances₁ ─┼─► mean p, mean importances (rows sum to 1)
       └─► …  (n_members)                             ┘

``distill(X, y)`` then trains ONE TabNet on the ensemble's probabilities (soft targets) and its per-row
importances (importance targets): the ensemble's accuracy and masks at one model's cost to predict and
explain (``benchmarks/tabnet_distill.py``)::

    X ─► ensemble ─► mean p, mean importances ─► TabNet(seed·100 + 50).fit(X, soft_targets=p,
                                                                         importance_targets=importances)

Shapes: ``predict_proba`` ``[n, n_classes]``; ``predict`` ``[n]`` (classifier) or ``[n]``/``[n, k]``
(regressor); ``explain`` ``([n, f], [n_steps, n, f])`` — the steps averaged over members index by
index (a summary: step i of two members need not do the same work).

Example::

    >>> from gridcrit.models.tabnet import TabNetClassifier
    >>> from gridcrit.models.tabnet.ensemble import TabNetEnsembleClassifier
    >>> ens = TabNetEnsembleClassifier(TabNetClassifier(max_epochs=5), n_members=3, seed=0)
    >>> ens.fit(X, y).predict_proba(X)                                      # doctest: +SKIP
    >>> importances, steps = ens.explain(X)                                 # doctest: +SKIP

Saved as ``ensemble.json`` (format, versions, members' directories, classes) beside one ordinary
TabNet directory per member (``member_00/`` …, JSON + safetensors); loading never unpickles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.exceptions import NotFittedError

from gridcrit.errors import NotFoundError, ValidationError

FORMAT = "gridcrit-tabnet-ensemble"
FORMAT_VERSION = "1.0"
ENSEMBLE_FILE = "ensemble.json"


def member_seed(seed: int, i: int) -> int:
    """Seed of member ``i``: ``seed · 100 + i`` (ensembles of seeds 0, 1, 2 … share no member up to 100)."""
    return int(seed) * 100 + int(i)


class _TabNetEnsemble(BaseEstimator):
    """Shared logic; see the module docstring. ``estimator``: an unfitted TabNet (cloned per member;
    its ``seed`` is replaced by :func:`member_seed`)."""

    _default: str = ""

    def __init__(self, estimator: Any = None, n_members: int = 10, seed: int = 0):
        self.estimator = estimator
        self.n_members = n_members
        self.seed = seed

    def __sklearn_tags__(self):
        from gridcrit.models.tabnet.estimators import tabnet_input_tags

        return tabnet_input_tags(super().__sklearn_tags__())

    def _base(self) -> Any:
        if self.estimator is not None:
            return self.estimator
        from gridcrit.models.tabnet import estimators

        return getattr(estimators, self._default)()

    def fit(self, X: Any, y: Any, **fit_params: Any):
        """Fit ``n_members`` clones of ``estimator`` one after another (each with its own threads);
        ``fit_params`` (``eval_set``, ``sample_weight`` …) go to every member's ``fit``."""
        n = int(self.n_members)
        if n < 1:
            raise ValidationError(f"n_members must be >= 1, got {self.n_members!r}",
                                  es=f"n_members debe ser >= 1; se recibió {self.n_members!r}")
        members = []
        for i in range(n):
            m = clone(self._base()).set_params(seed=member_seed(self.seed, i))
            members.append(m.fit(X, y, **fit_params))
        self.members_ = members
        self._copy_fitted_attributes()
        return self

    def _copy_fitted_attributes(self) -> None:
        first = self.members_[0]
        for a in ("classes_", "n_features_in_", "feature_names_in_", "n_outputs_"):
            if hasattr(first, a):
                setattr(self, a, getattr(first, a))

    @property
    def preprocessor_(self) -> Any:
        """The members' input encoder (fitted on the same rows, so the same for every member): the
        feature order that ``explain`` answers in."""
        self._check_fitted()
        return self.members_[0].preprocessor_

    def _check_fitted(self) -> None:
        if not getattr(self, "members_", None):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit first.")

    def explain(self, X: Any, normalize: bool = True, batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mean over members of each member's row-normalised importances ``[n, f]`` (rows sum to 1 when
        any member gives the row a contribution) and of their step masks ``[n_steps, n, f]``.

        Memory: the outputs (float32, accumulated in place) plus one member's explanation at a time.
        ``normalize`` is accepted for the single model's signature; members are always normalised
        first, so each counts alike whatever the scale of its masks."""
        self._check_fitted()
        imp_sum = steps_sum = None
        for m in self.members_:
            imp, steps = m.explain(X, normalize=True, batch_size=batch_size)
            if imp_sum is None:  # float32 like the outputs: twice the outputs' memory at most, not four times
                imp_sum, steps_sum = imp, steps
            else:
                imp_sum += imp
                steps_sum += steps  # clones: every member has the same number of steps
        k = np.float32(len(self.members_))
        imp_sum /= k
        steps_sum /= k
        if normalize:
            s = imp_sum.sum(axis=1, keepdims=True)
            np.divide(imp_sum, s, out=imp_sum, where=s > 0)
        return imp_sum, steps_sum

    def distill(self, X: Any, y: Any = None, *, importance_weight: float = 1.0, seed: int | None = None,
                **fit_params: Any) -> Any:
        """One TabNet trained to reproduce this ensemble: its predictions *and* its per-row importances.

        A clone of ``estimator`` (seeded ``seed``; default ``member_seed(self.seed, 50)``, or the index
        after the last member when there are more than 50) is fitted on ``X`` with the ensemble's outputs
        on ``X`` as targets — class probabilities as soft targets (classifier; ``y`` names the classes
        and must hold all of the ensemble's) or the mean prediction as ``y`` (regressor; ``y`` is not
        needed) — and the ensemble's row-normalised ``explain(X)`` as ``importance_targets`` (weight
        ``importance_weight``, see :meth:`TabNetClassifier.fit`). A DataFrame is put in the ensemble's
        column order first. ``fit_params`` (``eval_set``, ``sample_weight`` …) go to that fit. The result
        is an ordinary TabNet: one model's cost to predict, explain and save, with the ensemble's
        accuracy and masks that no longer carry one seed's noise (``benchmarks/tabnet_distill.py``,
        docs/tabnet.md "One model distilled from the ensemble"). Fine-tuning it later
        (``warm_start``, ``retrain --mode finetune``) uses the labels alone, without the ensemble."""
        self._check_fitted()
        names = getattr(self, "feature_names_in_", None)
        if names is not None and hasattr(X, "columns"):
            have = set(X.columns)
            missing = [str(c) for c in names if c not in have]
            if missing:
                raise ValidationError(f"X lacks the ensemble's column(s) {', '.join(missing[:5])}",
                                      es=f"a X le faltan columnas del conjunto: {', '.join(missing[:5])}")
            X = X[list(names)]  # explain answers in this order, and the student reads its targets in X's
        targets = self._distill_targets(X, y)  # checks y before the members' explanations are computed
        importances, _ = self.explain(X)
        k = len(self.members_)
        default_seed = member_seed(self.seed, 50 if k <= 50 else k)
        student = clone(self._base()).set_params(seed=default_seed if seed is None else int(seed))
        return student.fit(X, targets.pop("y"), **targets, importance_targets=importances,
                           importance_weight=importance_weight, **fit_params)

    def _distill_targets(self, X: Any, y: Any) -> dict:
        raise NotImplementedError

    @property
    def feature_importances_(self) -> np.ndarray:
        """Mean of the members' global importances (sum 1)."""
        self._check_fitted()
        imp = np.mean([m.feature_importances_ for m in self.members_], axis=0)
        return imp / imp.sum() if imp.sum() > 0 else imp

    # ---- persistence ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """``ensemble.json`` + ``member_00/`` … (each a TabNet directory: JSON + safetensors)."""
        import gridcrit

        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        names = []
        for i, m in enumerate(self.members_):
            name = f"member_{i:02d}"
            m.save(path / name)
            names.append(name)
        cfg = {"format": FORMAT, "format_version": FORMAT_VERSION, "gridcrit_version": gridcrit.__version__,
               "estimator": type(self).__name__, "n_members": len(names), "seed": int(self.seed),
               "members": names}
        tmp = path / (ENSEMBLE_FILE + ".tmp")
        tmp.write_text(json.dumps(cfg, indent=1))
        tmp.replace(path / ENSEMBLE_FILE)  # written last: a directory without it is not an ensemble

    @classmethod
    def load(cls, path: str | Path):
        """Load an ensemble saved with :meth:`save` (never unpickles)."""
        from gridcrit.models.tabnet.io import load_estimator

        path = Path(path)
        f = path / ENSEMBLE_FILE
        if not f.exists():
            raise NotFoundError(f"no TabNet ensemble at {path}: {ENSEMBLE_FILE} is missing")
        cfg = json.loads(f.read_text())
        if cfg.get("format") != FORMAT:
            raise ValidationError(f"{f}: format is {cfg.get('format')!r}, expected {FORMAT!r}")
        version = str(cfg.get("format_version", "?"))
        if version.split(".")[0] != FORMAT_VERSION.split(".")[0]:
            raise ValidationError(f"{f}: written with ensemble format {version}; this gridcrit reads "
                                  f"{FORMAT_VERSION.split('.')[0]}.x. Retrain or use a matching gridcrit.")
        if cfg.get("estimator") != cls.__name__:
            raise ValidationError(f"{path} holds a {cfg.get('estimator')}, not a {cls.__name__}")
        members = [load_estimator(path / name) for name in cfg["members"]]
        est = cls(estimator=clone(members[0]), n_members=len(members), seed=cfg.get("seed", 0))
        est.members_ = members
        est._copy_fitted_attributes()
        return est


class TabNetEnsembleClassifier(ClassifierMixin, _TabNetEnsemble):
    """Seed ensemble of :class:`~gridcrit.models.tabnet.TabNetClassifier` (module docstring): mean
    class probabilities, mean row-normalised importances."""

    _default = "TabNetClassifier"

    def predict_proba(self, X: Any) -> np.ndarray:
        """Mean of the members' class probabilities ``[n, n_classes]`` (order of ``classes_``)."""
        self._check_fitted()
        return np.mean([m.predict_proba(X) for m in self.members_], axis=0)

    def predict(self, X: Any) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def _distill_targets(self, X: Any, y: Any) -> dict:
        # the student's classes_ come from y: they must be the ensemble's, in the same order
        if y is None or len(y) != len(X) or not np.array_equal(np.unique(np.asarray(y)), self.classes_):
            classes = self.classes_.tolist()
            raise ValidationError(f"y must be X's labels, with all of the ensemble's classes {classes}",
                                  es=f"y deben ser las etiquetas de X, con todas las clases del conjunto {classes}")
        return {"y": y, "soft_targets": self.predict_proba(X)}


class TabNetEnsembleRegressor(RegressorMixin, _TabNetEnsemble):
    """Seed ensemble of :class:`~gridcrit.models.tabnet.TabNetRegressor`: mean prediction, mean
    row-normalised importances."""

    _default = "TabNetRegressor"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # the members are multi-output regressors
        return tags

    def predict(self, X: Any) -> np.ndarray:
        """Mean of the members' predictions (their own scale: Poisson members predict counts/rates)."""
        self._check_fitted()
        return np.mean([m.predict(X) for m in self.members_], axis=0)

    def _distill_targets(self, X: Any, y: Any) -> dict:
        if y is not None and len(y) != len(X):
            raise ValidationError(f"X has {len(X)} rows but y has {len(y)}",
                                  es=f"X tiene {len(X)} filas pero y tiene {len(y)}")
        return {"y": self.predict(X)}  # y is not needed: the student learns the ensemble's prediction
