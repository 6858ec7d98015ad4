"""The model zoo: one name -> one estimator class, all with the contract of :mod:`gridcrit.models.base`.

Names: ``tabnet, xgboost, lightgbm, rf, mlp, ft_transformer``. Classes are imported lazily so that
``import gridcrit.models.zoo`` stays cheap and a missing optional piece (e.g. TabNet while it is
being written) only fails when that model is asked for, with a clear message.

Example::

    >>> import numpy as np, pandas as pd
    >>> from gridcrit.models.zoo import make_model, load_model
    >>> X = pd.DataFrame({"a": np.arange(300.0) % 17, "c": ["u", "v", "w"] * 100})
    >>> y = (X["a"] > 8).astype(int)
    >>> m = make_model("lightgbm", task="classification", n_estimators=30).fit(X, y)
    >>> m.predict_proba(X).shape
    (300, 2)
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from gridcrit.errors import ValidationError
from gridcrit.models.base import ZooModel, check_task, read_model_json

#: name -> "module:Class"
REGISTRY: dict[str, str] = {
    "tabnet": "gridcrit.models.zoo:TabNetModel",
    "xgboost": "gridcrit.models.gbdt:XGBoostModel",
    "lightgbm": "gridcrit.models.gbdt:LightGBMModel",
    "rf": "gridcrit.models.forest:RandomForestModel",
    "mlp": "gridcrit.models.mlp:MLPModel",
    "ft_transformer": "gridcrit.models.ft_transformer:FTTransformerModel",
}
MODEL_NAMES = tuple(REGISTRY)


def model_class(name: str) -> type[ZooModel]:
    """The estimator class registered as ``name``."""
    if name not in REGISTRY:
        raise ValidationError(f"unknown model {name!r}; choose one of {', '.join(REGISTRY)}",
                              es=f"modelo desconocido {name!r}; elija uno de {', '.join(REGISTRY)}")
    mod, cls = REGISTRY[name].split(":")
    return getattr(importlib.import_module(mod), cls)


def make_model(name: str, task: str = "regression", **params: Any) -> ZooModel:
    """A fresh, unfitted zoo model ``name`` for ``task`` with ``params`` overriding the defaults."""
    check_task(task)
    cls = model_class(name)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    if "tabnet_params" in accepted:  # TabNet: unknown keys go to the TabNet constructor
        extra = {k: v for k, v in params.items() if k not in accepted}
        params = {k: v for k, v in params.items() if k in accepted}
        if extra:
            params["tabnet_params"] = {**(params.get("tabnet_params") or {}), **extra}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ValidationError(f"model {name!r} has no parameter(s) {', '.join(unknown)}; "
                              f"it takes {', '.join(sorted(accepted))}",
                              es=f"el modelo {name!r} no tiene el/los parámetro(s) {', '.join(unknown)}; "
                                 f"acepta {', '.join(sorted(accepted))}")
    return cls(task=task, **params)


def load_model(path: str | Path) -> ZooModel:
    """Load any zoo model saved with ``save(path)`` (reads ``model.json`` to pick the class)."""
    meta = read_model_json(path)
    return model_class(meta["kind"]).load(path)


#: decision steps of the zoo's TabNet when ``tabnet_params`` does not set ``n_steps``
DEFAULT_TABNET_STEPS = 1


class TabNetModel(ZooModel):
    """Zoo wrapper around :mod:`gridcrit.models.tabnet` (our own TabNet).

    The DataFrame goes to ``TabNetRegressor``/``TabNetClassifier`` (TabNet embeds categorical
    columns and adds NaN indicators itself) after ``log_heavy_tails``: heavy-tailed non-negative
    columns (counts, customers, past SAIFI...) become ``log1p(x / median of positives)``, chosen on
    the training rows and saved in ``model.json`` (TabNet standardises inputs; raw z-scores of such
    columns are nearly constant except a few clipped outliers). ``poisson`` uses TabNet's Poisson
    objective (log link, Poisson loss: it does not chase the few huge values of SAIFI/count targets
    as squared error does). ``tabnet_params`` are passed to the TabNet constructor (``n_d``,
    ``n_steps``, ``lr`` ...); ``n_steps`` defaults to 1 here (not the estimator's 3): on the
    criticality tables one step ranked assets better and trains 3–4× faster (docs/models.md).
    ``n_members`` > 1 trains a seed ensemble (:mod:`gridcrit.models.tabnet.ensemble`): that many
    TabNets, mean predictions and mean per-row masks — steadier masks and a little more accuracy for
    ``n_members`` times the training and explanation time. ``distill=True`` (with ``n_members`` > 1)
    then trains one TabNet on the ensemble's predictions and per-row masks
    (:meth:`~gridcrit.models.tabnet.ensemble.TabNetEnsembleClassifier.distill`) and keeps only it: the
    ensemble's accuracy and steadier masks at one model's cost to predict and explain (fine-tuning it
    later uses the new labels alone).
    Saved as our ``model.json`` plus TabNet's own files in ``tabnet/`` (an ensemble: ``ensemble.json``
    and one TabNet directory per member there).
    """

    kind: ClassVar[str] = "tabnet"

    def __init__(self, task: str = "regression", tabnet_params: dict[str, Any] | None = None,
                 max_epochs: int = 30, patience: int = 5, batch_size: int = 1024,
                 max_train_rows: int | None = None, random_state: int = 0, log_heavy_tails: bool = True,
                 n_members: int = 1, distill: bool = False):
        self.task = task
        self.n_members = n_members
        self.distill = distill
        self.log_heavy_tails = log_heavy_tails
        self.tabnet_params = tabnet_params
        self.max_epochs = max_epochs
        self.patience = patience
        self.batch_size = batch_size
        self.max_train_rows = max_train_rows
        self.random_state = random_state

    @staticmethod
    def _module():
        try:
            return importlib.import_module("gridcrit.models.tabnet")
        except ImportError as e:
            raise ValidationError(f"model 'tabnet' is not available yet (gridcrit.models.tabnet: {e})") from e

    def _cls(self):
        mod = self._module()
        return mod.TabNetClassifier if self.task == "classification" else mod.TabNetRegressor

    def _ensemble_cls(self):
        from gridcrit.models.tabnet import ensemble

        return (ensemble.TabNetEnsembleClassifier if self.task == "classification"
                else ensemble.TabNetEnsembleRegressor)

    def _fit(self, X, y, eval_set, sample_weight) -> None:
        from gridcrit.models.mlp import heavy_tail_scales, log_heavy_tails
        from gridcrit.runtime import default_threads

        self.log_scale_ = heavy_tail_scales(X) if self.log_heavy_tails else {}
        X = log_heavy_tails(X, self.log_scale_)
        if eval_set is not None:
            eval_set = (log_heavy_tails(eval_set[0], self.log_scale_), eval_set[1])
        rng = np.random.default_rng(self.random_state)
        if self.max_train_rows and len(X) > self.max_train_rows:
            keep = np.sort(rng.choice(len(X), self.max_train_rows, replace=False))
            X, y = X.iloc[keep], y[keep]
            sample_weight = None if sample_weight is None else sample_weight[keep]
        # one decision step unless tabnet_params says otherwise: on asset × period tables every row needs
        # its own history columns, which several sparse steps split between them (docs/models.md)
        params = {"n_steps": DEFAULT_TABNET_STEPS, "max_epochs": self.max_epochs, "patience": self.patience,
                  "batch_size": self.batch_size, "seed": self.random_state, "n_threads": default_threads(),
                  **(self.tabnet_params or {})}
        if self.task == "poisson":
            params.setdefault("objective", "poisson")
        self.net_ = self._cls()(**params)
        # the CLI's --param is type-checked against the annotation; this catches the Python API's "yes"
        if not isinstance(self.distill, (bool, np.bool_)):
            raise ValidationError(f"distill must be true or false, got {self.distill!r}",
                                  es=f"distill debe ser true o false; se recibió {self.distill!r}")
        distill = bool(self.distill)
        if distill and int(self.n_members) <= 1:
            raise ValidationError(f"distill=True needs a seed ensemble to learn from: n_members > 1 "
                                  f"(got {self.n_members})",
                                  es=f"distill=True necesita un conjunto de semillas del que aprender: "
                                     f"n_members > 1 (se recibió {self.n_members})")
        if int(self.n_members) != 1:  # 0 or less: the ensemble's own message
            self.net_ = self._ensemble_cls()(estimator=self.net_, n_members=int(self.n_members),
                                             seed=self.random_state)
        kw: dict[str, Any] = {}
        if eval_set is not None:
            kw["eval_set"] = [(eval_set[0], eval_set[1])]
        self.net_.fit(X, y, sample_weight=sample_weight, **kw)
        if distill:  # one TabNet learns the ensemble's outputs and masks; the ensemble is not kept
            self.net_ = self.net_.distill(X, y, sample_weight=sample_weight, **kw)

    def network_input(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` as the TabNet estimator ``net_`` sees it (heavy tails log-transformed): what its
        predictions, masks and gradients must be computed on."""
        from gridcrit.models.mlp import log_heavy_tails

        return log_heavy_tails(X, getattr(self, "log_scale_", {}))

    def _predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        X = self.network_input(X)
        if self.task == "classification":
            return np.asarray(self.net_.predict_proba(X), dtype=float)
        p = np.asarray(self.net_.predict(X), dtype=float).reshape(len(X), -1)[:, 0]
        return np.clip(p, 0, None) if self.task == "poisson" else p

    @property
    def feature_importances_(self) -> np.ndarray:
        return np.asarray(self.net_.feature_importances_, dtype=float)

    def _state(self) -> dict[str, Any]:
        return {"log_scale": getattr(self, "log_scale_", {})}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.log_scale_ = dict(state.get("log_scale") or {})

    def _save_weights(self, path: Path) -> list[str]:
        self.net_.save(path / "tabnet")
        return ["tabnet/"]

    def _load_weights(self, path: Path) -> None:
        from gridcrit.models.tabnet.ensemble import ENSEMBLE_FILE

        is_ensemble = (path / "tabnet" / ENSEMBLE_FILE).exists()
        self.net_ = (self._ensemble_cls() if is_ensemble else self._cls()).load(path / "tabnet")
