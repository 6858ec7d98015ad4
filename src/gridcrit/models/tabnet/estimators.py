"""sklearn estimators: :class:`TabNetClassifier`, :class:`TabNetRegressor`, :class:`TabNetPretrainer`.

All hyperparameters live in ``__init__`` (so ``clone``, ``GridSearchCV``, ``Pipeline`` and
``cross_val_score`` work); learned state ends in ``_``. Randomness comes only from a local
``torch.Generator`` seeded with ``seed`` — the global torch / numpy RNG states are left untouched —
and the torch thread count is set to ``n_threads`` (default :func:`gridcrit.runtime.default_threads`)
for the duration of each call and restored afterwards.

Reproducibility: the same ``seed``, data, ``n_threads`` and torch build give bit-identical weights
and predictions. Changing ``n_threads`` changes the floating-point summation order inside matrix
products, so results may differ in the last bits (and, through training dynamics, slightly more).

Example::

    >>> from gridcrit.models.tabnet import TabNetClassifier
    >>> clf = TabNetClassifier(n_d=8, n_a=8, max_epochs=5).fit(X, y, eval_set=[(X_val, y_val)])
    >>> proba = clf.predict_proba(X_val)
    >>> importances, masks = clf.explain(X_val)   # [n, f] rows sum to 1, [n_steps, n, f]
"""

from __future__ import annotations

import copy
import inspect
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F  # noqa: N812 (the universal PyTorch alias)
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import DataConversionWarning, NotFittedError
from sklearn.utils.multiclass import check_classification_targets

from gridcrit.errors import ValidationError
from gridcrit.models.base import check_n_features, check_sample_weight, check_table
from gridcrit.models.tabnet.network import (
    TabNetNetwork,
    TabNetPretrainNetwork,
    init_weights,
    reconstruction_loss,
)
from gridcrit.models.tabnet.preprocess import TabularPreprocessor
from gridcrit.models.tabnet.training import FitResult, gc_paused, torch_threads, train

_ARCH_SHAPE_PARAMS = ("n_d", "n_a", "n_steps", "n_independent", "n_shared", "cat_emb_dim")


def _rows(X: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of a DataFrame or array without copying the rest."""
    if hasattr(X, "iloc"):
        return X.iloc[start:stop]
    return X[start:stop]


def _n_rows(X: Any) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _check_X(X: Any, fitted: _TabNetBase | None = None) -> pd.DataFrame | np.ndarray:
    """``X`` as a DataFrame or 2-D array (:func:`~gridcrit.models.base.check_table`); ``fitted`` adds
    predict time's column-count check (a DataFrame for a model fitted on one is matched by name)."""
    X = check_table(X)
    if fitted is not None and not (isinstance(X, pd.DataFrame) and fitted.preprocessor_.from_frame):
        check_n_features(X, fitted)
    return X


def _check_fit_data(est: _TabNetBase, X: Any, y: Any = None, needs_y: bool = False) -> tuple[Any, Any]:
    """Training ``X`` (and ``y`` as an array) checked: 2-D, ≥ 2 rows, rows of X and y matching."""
    X = _check_X(X)
    if needs_y and y is None:
        raise ValidationError(f"{type(est).__name__} requires y to be passed, but the target y is None")
    if X.shape[0] < 2:  # batch normalisation has no statistics to use on one row
        raise ValidationError(f"TabNet needs at least 2 training rows, got n_samples={X.shape[0]} (shape {X.shape})")
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != X.shape[0]:
            raise ValidationError(f"X has {X.shape[0]} rows but y has {len(y) if y.ndim else 'a single value'}")
    return X, y


def _check_importance_targets(targets: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Target importances ``[n, n_features]`` (columns as ``X``'s): finite and non-negative."""
    t = np.asarray(targets, dtype=np.float64)
    if t.shape != tuple(shape[:2]):
        raise ValidationError(f"importance_targets must have shape {tuple(shape[:2])} (rows, features of X), "
                              f"got {t.shape}",
                              es=f"importance_targets debe tener forma {tuple(shape[:2])} (filas, columnas de X); "
                                 f"se recibió {t.shape}")
    if not np.isfinite(t).all() or (t < 0).any():
        raise ValidationError("importance_targets must be finite and non-negative",
                              es="importance_targets debe ser finito y no negativo")
    return t


def _check_importance_weight(weight: Any) -> float:
    try:
        w = float(weight)
    except (TypeError, ValueError):
        w = float("nan")
    if not np.isfinite(w) or w < 0:
        raise ValidationError(f"importance_weight must be a finite number >= 0, got {weight!r}",
                              es=f"importance_weight debe ser un número finito >= 0; se recibió {weight!r}")
    return w


def _with_base_parameters(cls: type) -> type:
    """Give ``cls.__init__`` (``own parameters, **kwargs`` for the base's) the full keyword-only
    signature, so that sklearn's ``get_params`` / ``clone`` / estimator checks and ``help()`` see
    every hyperparameter without the base's 28 being repeated in three classes."""
    own = inspect.signature(cls.__init__)
    params = [p for p in own.parameters.values() if p.kind != p.VAR_KEYWORD]
    params += [p.replace(kind=p.KEYWORD_ONLY) for n, p in inspect.signature(_TabNetBase.__init__).parameters.items()
               if n != "self"]
    cls.__init__.__signature__ = own.replace(parameters=params)
    return cls


def tabnet_input_tags(tags: Any) -> Any:
    """sklearn tags of what TabNet takes: NaN, categorical and string columns; seeded (deterministic)."""
    tags.input_tags.allow_nan = True
    tags.input_tags.categorical = True
    tags.input_tags.string = True
    tags.non_deterministic = False
    return tags


class _TabNetBase(BaseEstimator):
    """Hyperparameters and machinery common to the three estimators (not used directly).

    Architecture: ``n_d``/``n_a`` decision/attention widths, ``n_steps`` decision steps, ``gamma``
    feature-reuse relaxation, ``n_independent``/``n_shared`` GLU layers per step / shared,
    ``momentum`` ghost-BN momentum (PyTorch convention), ``virtual_batch_size``, ``mask_type``
    ("sparsemax" or "entmax" = entmax-1.5), ``lambda_sparse`` mask-entropy penalty.
    Inputs: ``cat_features`` ("auto" = by dtype, or names/indices, or None), ``cat_emb_dim``,
    ``nan_indicators`` (see :mod:`gridcrit.models.tabnet.preprocess`).
    Training: ``batch_size``, ``drop_last``, ``lr``, ``weight_decay``, ``lr_schedule``
    (None/"step"/"cosine"/"onecycle"), ``lr_decay_rate``/``lr_decay_steps`` (for "step"),
    ``max_epochs``, ``patience`` (epochs without eval improvement; needs ``eval_set``),
    ``clip_value`` (gradient-norm clip), ``eval_metric``, ``seed``, ``n_threads``, ``warm_start``,
    ``verbose``.
    """

    _task = "base"

    def __init__(
        self,
        n_d: int = 8,
        n_a: int = 8,
        n_steps: int = 3,
        gamma: float = 1.3,
        n_independent: int = 2,
        n_shared: int = 2,
        momentum: float = 0.02,
        virtual_batch_size: int = 128,
        mask_type: str = "sparsemax",
        lambda_sparse: float = 1e-3,
        cat_features: Any = "auto",
        cat_emb_dim: int = 1,
        nan_indicators: bool = True,
        batch_size: int = 1024,
        drop_last: bool = True,
        lr: float = 0.02,
        weight_decay: float = 0.0,
        lr_schedule: str | None = "onecycle",
        lr_decay_rate: float = 0.9,
        lr_decay_steps: int | None = None,
        max_epochs: int = 100,
        patience: int = 20,
        clip_value: float | None = 1.0,
        eval_metric: str = "auto",
        seed: int = 0,
        n_threads: int | None = None,
        warm_start: bool = False,
        verbose: int = 0,
    ):
        self.n_d = n_d
        self.n_a = n_a
        self.n_steps = n_steps
        self.gamma = gamma
        self.n_independent = n_independent
        self.n_shared = n_shared
        self.momentum = momentum
        self.virtual_batch_size = virtual_batch_size
        self.mask_type = mask_type
        self.lambda_sparse = lambda_sparse
        self.cat_features = cat_features
        self.cat_emb_dim = cat_emb_dim
        self.nan_indicators = nan_indicators
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.lr_decay_rate = lr_decay_rate
        self.lr_decay_steps = lr_decay_steps
        self.max_epochs = max_epochs
        self.patience = patience
        self.clip_value = clip_value
        self.eval_metric = eval_metric
        self.seed = seed
        self.n_threads = n_threads
        self.warm_start = warm_start
        self.verbose = verbose

    # ---- sklearn tags ----------------------------------------------------------------------------
    def __sklearn_tags__(self):
        return tabnet_input_tags(super().__sklearn_tags__())

    # ---- helpers -------------------------------------------------------------------------------
    def _arch(self) -> dict:
        return {
            "n_d": self.n_d, "n_a": self.n_a, "n_steps": self.n_steps, "gamma": self.gamma,
            "n_independent": self.n_independent, "n_shared": self.n_shared,
            "virtual_batch_size": self.virtual_batch_size, "momentum": self.momentum, "mask_type": self.mask_type,
        }

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit first.")

    def _check_predict_X(self, X: Any) -> pd.DataFrame | np.ndarray:
        self._check_fitted()
        return _check_X(X, self)

    def _train_kwargs(self) -> dict:
        return {
            "batch_size": int(self.batch_size), "drop_last": bool(self.drop_last), "max_epochs": int(self.max_epochs),
            "patience": int(self.patience or 0), "lr": float(self.lr), "weight_decay": float(self.weight_decay),
            "lr_schedule": self.lr_schedule, "lr_decay_rate": float(self.lr_decay_rate),
            "lr_decay_steps": self.lr_decay_steps, "clip_value": self.clip_value, "verbose": int(self.verbose),
        }

    def _prepare_preprocessor(self, X: Any, from_pretrained: Any) -> None:
        if from_pretrained is not None:
            if not isinstance(from_pretrained, TabNetPretrainer) or not hasattr(from_pretrained, "network_"):
                raise ValidationError("from_pretrained must be a fitted TabNetPretrainer")
            diff = [p for p in _ARCH_SHAPE_PARAMS if getattr(self, p) != getattr(from_pretrained, p)]
            if diff:
                raise ValidationError(
                    "from_pretrained has a different architecture: "
                    + ", ".join(f"{p}={getattr(from_pretrained, p)} (ours {getattr(self, p)})" for p in diff)
                )
            self.preprocessor_ = copy.deepcopy(from_pretrained.preprocessor_)
        else:
            self.preprocessor_ = TabularPreprocessor.fit(X, self.cat_features, self.nan_indicators)
        pre = self.preprocessor_
        self.n_features_in_ = pre.n_features
        if pre.from_frame:
            self.feature_names_in_ = np.asarray(pre.feature_names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _build(self, cls: type, **extra) -> torch.nn.Module:
        pre = self.preprocessor_
        # fork_rng: nn.Module constructors draw default inits from the global RNG; we restore it
        # and then overwrite every weight from our own generator.
        with torch.random.fork_rng(devices=[]):
            net = cls(
                pre.n_num_columns, pre.cat_cardinalities, self.cat_emb_dim, pre.group_index(self.cat_emb_dim),
                pre.n_model_features, **extra, **self._arch(),
            )
        init_weights(net, self._generator_)
        return net

    def _iter_batches(self, X: Any, batch_size: int):
        n = _n_rows(X)
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            x_num, x_cat = self.preprocessor_.transform(_rows(X, start, stop))
            yield start, stop, x_num, x_cat

    def _predict_batch_size(self) -> int:
        return max(self._rows_per_batch(self.network_), int(self.batch_size))

    @staticmethod
    def _rows_per_batch(net) -> int:
        """Rows per inference / ``explain`` batch: about 2²⁰ input cells (at most 8192 rows). Each batch holds
        ~20 temporaries as wide as the input (masks, priors, the mask normaliser's work), so a fixed
        row count made wide inputs costly — 8192 rows × 300 features took 176 MB beyond the outputs —
        while on narrow inputs large batches are fastest (1M × 11: 3.7 s at 8192 rows, 5.3 s at 1024)."""
        width = max(1, int(net.encoder.input_dim))
        return max(256, min(8192, (1 << 20) // width))

    # ---- explanations --------------------------------------------------------------------------
    def explain(self, X: Any, normalize: bool = True, batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-row feature importances ``[n, f]`` and per-step masks ``[n_steps, n, f]`` (float32).

        Importances aggregate the step masks weighted by each step's decision contribution
        (``Σ_i η_i M_i``); with ``normalize`` every row sums to 1 (rows with zero contribution stay 0).
        Memory is bounded: the outputs are preallocated and ``X`` is converted and explained
        ``batch_size`` rows at a time (default: about 2²⁰ input cells, at most 8192 rows), so the
        working set beyond the outputs is bounded (~80 MB at 300 features, a few MB at 11).
        """
        X = self._check_predict_X(X)
        net = self._explain_network()
        pre = self.preprocessor_
        n, f = _n_rows(X), pre.n_features
        alloc = np.zeros if pre.constant_columns else np.empty  # constant columns: 0, never written
        importances = alloc((n, f), dtype=np.float32)
        masks = alloc((self.n_steps, n, f), dtype=np.float32)
        cols = pre.model_positions if pre.constant_columns else slice(None)
        bs = batch_size or self._rows_per_batch(net)
        with torch_threads(self.n_threads), torch.inference_mode():
            net.eval()
            for start, stop, x_num, x_cat in self._iter_batches(X, bs):
                agg, m = net.forward_masks(x_num, x_cat)
                if normalize:
                    s = agg.sum(dim=1, keepdim=True)
                    agg = torch.where(s > 0, agg / s.clamp_min(1e-30), agg)
                importances[start:stop, cols] = agg.numpy()
                masks[:, start:stop, cols] = m.numpy()
        return importances, masks

    def _explain_network(self):
        return self.network_

    def _global_importances(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> np.ndarray:
        net = self._explain_network()
        total = torch.zeros(self.preprocessor_.n_model_features, dtype=torch.float64)
        with torch_threads(self.n_threads), torch.inference_mode():
            net.eval()
            bs = self._rows_per_batch(net)
            for s in range(0, x_num.shape[0], bs):
                agg, _ = net.forward_masks(x_num[s : s + bs], x_cat[s : s + bs])
                total += agg.sum(0).double()
        tot = float(total.sum())
        return self.preprocessor_.to_features((total / tot).numpy() if tot > 0 else total.numpy())

    @property
    def feature_importances_(self) -> np.ndarray:
        """Global importances (sum 1), computed on request on a sample of ≤ 10k training rows.

        Cached once computed; :meth:`save` stores them so a loaded model has them without data.
        """
        self._check_fitted()
        if getattr(self, "_feature_importances", None) is None:
            sample = getattr(self, "_importance_sample", None)
            if sample is None:
                raise NotFittedError("feature importances were not saved with this model and no training sample is kept")
            self._feature_importances = self._global_importances(*sample)
        return self._feature_importances

    def _keep_importance_sample(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> None:
        n = x_num.shape[0]
        if n > 10_000:
            idx = torch.randperm(n, generator=self._generator_)[:10_000]
            x_num, x_cat = x_num[idx], x_cat[idx]
        self._importance_sample = (x_num, x_cat)
        self._feature_importances = None

    # ---- persistence ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write ``model.json`` + ``weights.safetensors`` into directory ``path`` (see :mod:`.io`)."""
        from gridcrit.models.tabnet.io import save_estimator

        save_estimator(self, path)

    @classmethod
    def load(cls, path: str | Path):
        """Load a model saved with :meth:`save` (never unpickles)."""
        from gridcrit.models.tabnet.io import load_estimator

        est = load_estimator(path)
        if not isinstance(est, cls):
            raise ValidationError(f"{path} holds a {type(est).__name__}, not a {cls.__name__}")
        return est


class _SupervisedTabNet(_TabNetBase):
    """Shared fit / predict logic of the classifier and regressor."""

    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _targets(self, y: Any, fitting: bool) -> torch.Tensor:
        raise NotImplementedError

    def _loss(self, out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def _sample_weights(self, y: torch.Tensor, sample_weight: Any) -> torch.Tensor | None:
        if sample_weight is None:
            return None
        return torch.from_numpy(check_sample_weight(sample_weight, y.shape[0]).astype(np.float32))

    def _score_eval(self, x_num: torch.Tensor, x_cat: torch.Tensor, y: Any) -> float:
        raise NotImplementedError

    def fit(self, X: Any, y: Any, eval_set: list | None = None, sample_weight: Any = None,
            from_pretrained: TabNetPretrainer | None = None, *, soft_targets: Any = None,
            importance_targets: Any = None, importance_weight: float = 1.0):
        """Train on ``X, y``; early-stop on the first ``(X_val, y_val)`` of ``eval_set``.

        ``from_pretrained`` (a fitted :class:`TabNetPretrainer` with the same architecture) starts
        from its encoder and embedding weights and reuses its input mapping (fine-tuning).
        ``warm_start=True`` continues training the current weights on a second ``fit``.

        Distillation (see :meth:`~gridcrit.models.tabnet.ensemble.TabNetEnsembleClassifier.distill`):
        ``soft_targets`` (classifier only) — class probabilities ``[n, n_classes]`` in the order of
        ``classes_`` (``np.unique(y)`` on a first fit) — replace the 0/1 targets of the cross-entropy
        (``y`` still names the classes); ``importance_targets`` ``[n, n_features]`` (non-negative, columns
        in the order of ``X``'s, e.g. another model's ``explain``) add ``importance_weight ×`` the
        (sample-weighted) mean total-variation distance ``½ Σ_f |Mₙ − Tₙ|`` between each row's normalised
        aggregated mask importances and its target row (rows whose target sums to 0 are left out of that
        term). The term steers where the masks look, not what the model computes: targets that
        contradict the data are followed by the masks while the model reads other features through
        small mask weights — take them from models of the same data. Early stopping and the restored
        best epoch follow the eval metric alone. Arguments are checked before anything is changed: a
        refused fit leaves a fitted model as it was.
        """
        X, y = _check_fit_data(self, X, y, needs_y=True)
        reuse = bool(self.warm_start) and hasattr(self, "network_") and from_pretrained is None
        soft = None if soft_targets is None else self._check_soft_targets(soft_targets, y, reuse)
        imp = None if importance_targets is None else _check_importance_targets(importance_targets, X.shape)
        imp_w = _check_importance_weight(importance_weight)
        with torch_threads(self.n_threads), gc_paused():
            self._generator_ = torch.Generator().manual_seed(int(self.seed) + (getattr(self, "n_fits_", 0) if reuse else 0))
            if not reuse:
                self._prepare_preprocessor(X, from_pretrained)
            y_t = self._targets(y, fitting=not reuse)
            x_num, x_cat = self.preprocessor_.transform(X)
            w = self._sample_weights(y_t, sample_weight)
            w = self._class_weighted(y_t, w)
            if not reuse:
                self.network_ = self._build(TabNetNetwork, n_outputs=self._n_outputs())
                if from_pretrained is not None:
                    self._load_pretrained(from_pretrained)
            net = self.network_
            lam = float(self.lambda_sparse)
            targets = y_t if soft is None else torch.from_numpy(soft)
            imp_t = None if imp is None else self._model_importance_targets(imp, X)

            def batch_loss(idx: torch.Tensor) -> torch.Tensor:
                xb_num, xb_cat = x_num.index_select(0, idx), x_cat.index_select(0, idx)
                if imp_t is None:
                    out, m_loss = net(xb_num, xb_cat)
                else:
                    out, m_loss, agg = net.forward_with_importances(xb_num, xb_cat)
                loss = self._loss(out, targets.index_select(0, idx), None if w is None else w.index_select(0, idx))
                if imp_t is not None:
                    t = imp_t.index_select(0, idx)
                    has = (t.sum(dim=1) > 0).to(t.dtype)  # rows with a target (and their weight)
                    if w is not None:
                        has = has * w.index_select(0, idx)
                    s = agg / agg.sum(dim=1, keepdim=True).clamp_min(1e-12)
                    tv = 0.5 * (s - t).abs().sum(dim=1)
                    loss = loss + imp_w * (tv * has).sum() / has.sum().clamp_min(1e-12)
                return loss - lam * m_loss if lam else loss

            evaluate = None
            if eval_set:
                if not isinstance(eval_set, (list, tuple)) or not isinstance(eval_set[0], (list, tuple)):
                    raise ValidationError("eval_set must be a list of (X_val, y_val) pairs")
                Xv, yv = _check_X(eval_set[0][0], self), np.asarray(eval_set[0][1])
                if yv.ndim == 0 or len(Xv) != len(yv):
                    raise ValidationError(f"eval_set X has {len(Xv)} rows but y has {yv.size}")
                xv_num, xv_cat = self.preprocessor_.transform(Xv)

                def evaluate() -> float:
                    return self._score_eval(xv_num, xv_cat, yv)

            res = train(
                net, x_num.shape[0], batch_loss, evaluate, higher_is_better=self._higher_is_better(),
                generator=self._generator_, **self._train_kwargs(),
            )
            self._record_fit(res)
            self._keep_importance_sample(x_num, x_cat)
        return self

    def _check_soft_targets(self, soft: Any, y: np.ndarray, reuse: bool) -> np.ndarray:
        raise ValidationError(f"soft_targets is for classifiers; a {type(self).__name__} takes its targets as y",
                              es=f"soft_targets es para clasificadores; un {type(self).__name__} recibe su "
                                 f"objetivo en y")

    def _model_importance_targets(self, t: np.ndarray, X: Any) -> torch.Tensor:
        """Checked ``[n, n_features]`` targets (columns as ``X``'s) → ``[n, n_model_features]`` float32 in the
        network's feature order, rows summing to 1 (or 0)."""
        pre = self.preprocessor_
        if pre.from_frame and isinstance(X, pd.DataFrame):  # X's order may differ from a reused preprocessor's
            cols = {str(c): i for i, c in enumerate(X.columns)}
            t = t[:, [cols[str(name)] for name in pre.feature_names]]
        if pre.constant_columns:  # constant columns are not fed to the network (and explain gives them 0)
            t = t[:, pre.model_positions]
        s = t.sum(axis=1, keepdims=True)
        t = np.divide(t, s, out=np.zeros_like(t), where=s > 0)
        return torch.from_numpy(t.astype(np.float32))

    def _record_fit(self, res: FitResult) -> None:
        self.history_ = res.history
        self.fit_stats_ = res.to_dict()
        self.best_epoch_ = res.best_epoch
        self.best_score_ = res.best_score
        self.n_fits_ = getattr(self, "n_fits_", 0) + 1

    def _class_weighted(self, y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor | None:
        return w

    def _higher_is_better(self) -> bool:
        return False

    def _load_pretrained(self, pre: TabNetPretrainer) -> None:
        src = pre.network_
        self.network_.embedder.load_state_dict(src.embedder.state_dict())
        self.network_.encoder.load_state_dict(src.encoder.state_dict())

    def _forward_all(self, X: Any) -> np.ndarray:
        """Raw network outputs for all rows, in batches."""
        X = self._check_predict_X(X)
        chunks = []
        with torch_threads(self.n_threads), torch.inference_mode():
            self.network_.eval()
            for _, _, x_num, x_cat in self._iter_batches(X, self._predict_batch_size()):
                chunks.append(self.network_(x_num, x_cat)[0])
        return torch.cat(chunks).numpy() if chunks else np.zeros((0, self._n_outputs()), np.float32)

    def _forward_tensors(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        bs = self._predict_batch_size()
        with torch.inference_mode():
            self.network_.eval()
            return torch.cat([self.network_(x_num[s : s + bs], x_cat[s : s + bs])[0] for s in range(0, x_num.shape[0], bs)])


@_with_base_parameters
class TabNetClassifier(ClassifierMixin, _SupervisedTabNet):
    """TabNet for binary and multiclass classification (softmax head, cross-entropy loss).

    ``class_weight``: None, "balanced" or ``{label: weight}``; multiplies ``sample_weight``.
    ``eval_metric``: "auto" (AUC for two classes, log-loss otherwise), "auc", "logloss", "accuracy",
    "macro_f1". See :class:`_TabNetBase` for the other parameters.

    Architecture: see :class:`gridcrit.models.tabnet.network.TabNetNetwork`.

    Example::

        >>> clf = TabNetClassifier(n_steps=4, max_epochs=20).fit(X, y)
        >>> clf.predict_proba(X).shape
        (len(X), len(clf.classes_))
    """

    _task = "classification"

    def __init__(self, *, class_weight: Any = None, **kwargs):
        super().__init__(**kwargs)
        self.class_weight = class_weight

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _targets(self, y: Any, fitting: bool) -> torch.Tensor:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected; using y.ravel()",
                          DataConversionWarning, stacklevel=4)
            y = y.ravel()
        if y.ndim != 1:
            raise ValidationError(f"y must be 1-D class labels, got shape {y.shape}")
        if fitting:
            if len(y) and any(v is None or (isinstance(v, float) and np.isnan(v)) for v in y[:1000].tolist()):
                raise ValidationError("y contains missing labels")
            try:
                check_classification_targets(y)
            except ValueError as e:  # "Unknown label type: continuous ..." for a regression target
                raise ValidationError(f"y: {e}") from None
            self.classes_ = np.unique(y)
            if len(self.classes_) < 2:
                raise ValidationError(f"y has only 1 class ({self.classes_[0]}); a classifier needs at least two")
        codes = np.searchsorted(self.classes_, y)
        codes = np.clip(codes, 0, len(self.classes_) - 1)
        if not np.array_equal(self.classes_[codes], y):
            unknown = sorted({str(v) for v in y[self.classes_[codes] != y]})[:5]
            raise ValidationError(f"y has labels not seen in the first fit: {', '.join(unknown)}")
        return torch.from_numpy(codes.astype(np.int64))

    def _class_weighted(self, y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor | None:
        cw = self.class_weight
        if cw is None:
            return w
        k = len(self.classes_)
        if cw == "balanced":
            counts = torch.bincount(y, minlength=k).float()
            per_class = len(y) / (k * counts.clamp_min(1))
        elif isinstance(cw, dict):
            per_class = torch.tensor([float(cw.get(c, cw.get(str(c), 1.0))) for c in self.classes_.tolist()])
        else:
            raise ValidationError(f"class_weight must be None, 'balanced' or a dict, got {cw!r}")
        cwt = per_class[y]
        return cwt if w is None else cwt * w

    def _loss(self, out, y, w):
        # y: class codes [B] (int64), or class probabilities [B, k] (float, soft targets)
        if w is None:
            return F.cross_entropy(out, y)
        return (F.cross_entropy(out, y, reduction="none") * w).sum() / w.sum().clamp_min(1e-12)

    def _check_soft_targets(self, soft: Any, y: np.ndarray, reuse: bool) -> np.ndarray:
        p = np.asarray(soft, dtype=np.float64)
        try:
            classes = self.classes_ if reuse else np.unique(y)
        except TypeError:  # mixed label types: _targets says so in its own words
            classes = None
        if classes is not None and p.shape != (len(y), len(classes)):
            raise ValidationError(f"soft_targets must have shape ({len(y)}, {len(classes)}) (rows, classes in the "
                                  f"order {classes.tolist()}), got {p.shape}",
                                  es=f"soft_targets debe tener forma ({len(y)}, {len(classes)}) (filas, clases en "
                                     f"el orden {classes.tolist()}); se recibió {p.shape}")
        s = p.sum(axis=1) if p.ndim == 2 else p
        if p.ndim != 2 or not np.isfinite(p).all() or (p < 0).any() or not np.allclose(s, 1.0, atol=1e-4):
            raise ValidationError("soft_targets must be class probabilities: finite, non-negative, rows summing to 1",
                                  es="soft_targets deben ser probabilidades de clase: finitas, no negativas, "
                                     "cada fila suma 1")
        return (p / s[:, None]).astype(np.float32)

    def _metric(self) -> str:
        m = self.eval_metric
        if m == "auto":
            return "auc" if len(self.classes_) == 2 else "logloss"
        if m not in ("auc", "logloss", "accuracy", "macro_f1"):
            raise ValidationError(f"eval_metric {m!r} is not one of auto, auc, logloss, accuracy, macro_f1")
        return m

    def _higher_is_better(self) -> bool:
        return self._metric() != "logloss"

    def _score_eval(self, x_num, x_cat, y) -> float:
        from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

        proba = torch.softmax(self._forward_tensors(x_num, x_cat), dim=1).numpy()
        y = np.asarray(y)
        m = self._metric()
        if m == "auc":
            if len(self.classes_) == 2:
                return float(roc_auc_score(y == self.classes_[1], proba[:, 1]))
            return float(roc_auc_score(y, proba, multi_class="ovr", labels=self.classes_))
        if m == "logloss":
            return float(log_loss(y, proba, labels=self.classes_))
        pred = self.classes_[proba.argmax(1)]
        if m == "accuracy":
            return float(accuracy_score(y, pred))
        return float(f1_score(y, pred, average="macro"))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``[n, n_classes]`` in the order of ``classes_``."""
        out = torch.from_numpy(self._forward_all(X))
        return torch.softmax(out, dim=1).numpy()

    def predict(self, X: Any) -> np.ndarray:
        proba = self.predict_proba(X)  # first: it raises NotFittedError before classes_ is needed
        return self.classes_[proba.argmax(axis=1)]


@_with_base_parameters
class TabNetRegressor(RegressorMixin, _SupervisedTabNet):
    """TabNet regression with one or several outputs.

    ``objective="mse"`` (default): squared error on standardised targets (mean/std saved with the
    model). ``objective="poisson"``: counts and rates (``y ≥ 0``) with a log link — the network's
    output ``o`` is a log-rate of ``y / scale`` (``scale`` = the training mean of ``y``, so the
    untrained zero output already predicts the mean), the loss is the Poisson negative
    log-likelihood ``exp(o) − (y/scale)·o`` and ``predict`` returns ``scale · exp(o)``. Unlike MSE it
    does not chase the few huge values of a heavy-tailed count/SAIFI target.
    ``y`` of shape ``[n]`` gives ``predict`` → ``[n]``; ``[n, k]`` gives ``[n, k]``.
    ``eval_metric``: "auto" (mse, or Poisson deviance for ``objective="poisson"``), "mse", "mae",
    "poisson".

    Example::

        >>> reg = TabNetRegressor(max_epochs=20).fit(X, Y)      # Y: [n, 2]
        >>> reg.predict(X).shape
        (len(X), 2)
        >>> cnt = TabNetRegressor(objective="poisson", max_epochs=20).fit(X, counts)
    """

    _task = "regression"
    _OBJECTIVES = ("mse", "poisson")

    def __init__(self, *, objective: str = "mse", **kwargs):
        super().__init__(**kwargs)
        self.objective = objective

    def _poisson(self) -> bool:
        if self.objective not in self._OBJECTIVES:
            raise ValidationError(f"objective {self.objective!r} is not one of {', '.join(self._OBJECTIVES)}")
        return self.objective == "poisson"

    def _n_outputs(self) -> int:
        return self.n_outputs_

    def _targets(self, y: Any, fitting: bool) -> torch.Tensor:
        y = np.asarray(y, dtype=np.float64)
        if y.ndim not in (1, 2):
            raise ValidationError(f"y must be 1-D or 2-D, got shape {y.shape}")
        if not np.isfinite(y).all():
            raise ValidationError("y contains NaN or infinite values")
        y2 = y.reshape(len(y), -1)
        poisson = self._poisson()
        if poisson and (y2 < 0).any():
            raise ValidationError("objective='poisson' needs y >= 0 (counts or rates)")
        if fitting:
            self.y_1d_ = y.ndim == 1
            self.n_outputs_ = y2.shape[1]
            if poisson:  # log link: no shift; scale by the mean so that exp(0) predicts the mean
                self.y_mean_ = np.zeros(y2.shape[1])
                m = y2.mean(0)
                self.y_scale_ = np.where(m > 0, m, 1.0)
            else:
                self.y_mean_ = y2.mean(0)
                sd = y2.std(0)
                self.y_scale_ = np.where(sd > 0, sd, 1.0)
        elif y2.shape[1] != self.n_outputs_:
            raise ValidationError(f"y has {y2.shape[1]} outputs; the model has {self.n_outputs_}")
        return torch.from_numpy(((y2 - self.y_mean_) / self.y_scale_).astype(np.float32))

    def _loss(self, out, y, w):
        if self.objective == "poisson":
            err = (torch.exp(out.clamp(max=30.0)) - y * out).mean(dim=1)
        else:
            err = ((out - y) ** 2).mean(dim=1)
        if w is None:
            return err.mean()
        return (err * w).sum() / w.sum().clamp_min(1e-12)

    def _metric(self) -> str:
        m = self.eval_metric
        if m == "auto":
            m = "poisson" if self._poisson() else "mse"
        if m not in ("mse", "mae", "poisson"):
            raise ValidationError(f"eval_metric {m!r} is not one of auto, mse, mae, poisson")
        return m

    def _to_target_scale(self, out: np.ndarray) -> np.ndarray:
        out = out.astype(np.float64)
        if self.objective == "poisson":
            return np.exp(np.minimum(out, 30.0)) * self.y_scale_
        return out * self.y_scale_ + self.y_mean_

    def _score_eval(self, x_num, x_cat, y) -> float:
        pred = self._to_target_scale(self._forward_tensors(x_num, x_cat).numpy())
        y2 = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        m = self._metric()
        if m == "poisson":  # mean Poisson deviance (lower is better, like mse/mae)
            from gridcrit.models.metrics import poisson_deviance

            return poisson_deviance(y2, pred, eps=1e-12)
        d = pred - y2
        return float(np.mean(d**2) if m == "mse" else np.mean(np.abs(d)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def predict(self, X: Any) -> np.ndarray:
        pred = self._to_target_scale(self._forward_all(X))
        return pred[:, 0] if self.y_1d_ else pred


@_with_base_parameters
class TabNetPretrainer(_TabNetBase):
    """Self-supervised TabNet: learns to reconstruct randomly hidden features (no labels needed).

    Each row hides every feature with probability ``pretraining_ratio``; the encoder sees the rest
    (its prior is 0 on hidden features) and a decoder reconstructs the embedded input. Pass the
    fitted pretrainer to ``TabNetClassifier(...).fit(X, y, from_pretrained=pre)`` to fine-tune.
    ``eval_set`` is a list of ``X_val`` (or ``(X_val, anything)``) for early stopping on the
    validation reconstruction loss. Architecture: :class:`~.network.TabNetPretrainNetwork`.

    Example::

        >>> pre = TabNetPretrainer(max_epochs=50).fit(X_unlabelled)
        >>> clf = TabNetClassifier(max_epochs=50).fit(X_small, y_small, from_pretrained=pre)
    """

    _task = "pretraining"

    def __init__(self, *, pretraining_ratio: float = 0.2, n_shared_decoder: int = 1, n_indep_decoder: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.pretraining_ratio = pretraining_ratio
        self.n_shared_decoder = n_shared_decoder
        self.n_indep_decoder = n_indep_decoder

    def _build_pretrain(self) -> torch.nn.Module:
        return self._build(
            TabNetPretrainNetwork, n_shared_decoder=self.n_shared_decoder, n_indep_decoder=self.n_indep_decoder
        )

    def fit(self, X: Any, y: Any = None, eval_set: list | None = None):
        """Pretrain on unlabelled ``X`` (``y`` is ignored; it exists for sklearn pipelines)."""
        if not 0.0 < float(self.pretraining_ratio) < 1.0:
            raise ValidationError(f"pretraining_ratio must be in (0, 1), got {self.pretraining_ratio}")
        X, _ = _check_fit_data(self, X)
        with torch_threads(self.n_threads), gc_paused():
            reuse = bool(self.warm_start) and hasattr(self, "network_")
            self._generator_ = torch.Generator().manual_seed(int(self.seed) + (getattr(self, "n_fits_", 0) if reuse else 0))
            if not reuse:
                self._prepare_preprocessor(X, None)
                self.network_ = self._build_pretrain()
            x_num, x_cat = self.preprocessor_.transform(X)
            net, gen, f, r = self.network_, self._generator_, self.preprocessor_.n_model_features, float(self.pretraining_ratio)

            def batch_loss(idx: torch.Tensor) -> torch.Tensor:
                hidden = torch.bernoulli(torch.full((idx.shape[0], f), r), generator=gen)
                x_hat, x_emb, hidden_cols = net(x_num.index_select(0, idx), x_cat.index_select(0, idx), hidden)
                return reconstruction_loss(x_hat, x_emb, hidden_cols)  # no sparsity term, as in the paper

            evaluate = None
            if eval_set:
                first = eval_set[0]
                Xv = _check_X(first[0] if isinstance(first, (list, tuple)) else first, self)
                xv_num, xv_cat = self.preprocessor_.transform(Xv)
                # fixed hidden pattern so epochs are comparable
                hv = torch.bernoulli(torch.full((xv_num.shape[0], f), r), generator=torch.Generator().manual_seed(int(self.seed) + 1))

                def evaluate() -> float:
                    with torch.inference_mode():
                        tot, n = 0.0, xv_num.shape[0]
                        for s in range(0, n, 8192):
                            x_hat, x_emb, hc = net(xv_num[s : s + 8192], xv_cat[s : s + 8192], hv[s : s + 8192])
                            tot += float(reconstruction_loss(x_hat, x_emb, hc)) * x_hat.shape[0]
                        return tot / max(1, n)

            res = train(net, x_num.shape[0], batch_loss, evaluate, higher_is_better=False, generator=gen, **self._train_kwargs())
            self.history_ = res.history
            self.fit_stats_ = res.to_dict()
            self.best_epoch_ = res.best_epoch
            self.best_score_ = res.best_score
            self.n_fits_ = getattr(self, "n_fits_", 0) + 1
            self._keep_importance_sample(x_num, x_cat)
        return self

    def _explain_network(self):
        return _EncoderView(self.network_)

    def reconstruct(self, X: Any) -> np.ndarray:
        """Reconstruction of the embedded input with nothing hidden, ``[n, d]`` (for inspection)."""
        X = self._check_predict_X(X)
        out = []
        f = self.preprocessor_.n_model_features
        with torch_threads(self.n_threads), torch.inference_mode():
            self.network_.eval()
            for _, _, x_num, x_cat in self._iter_batches(X, self._predict_batch_size()):
                out.append(self.network_(x_num, x_cat, torch.zeros(x_num.shape[0], f))[0])
        return torch.cat(out).numpy()


class _EncoderView(torch.nn.Module):
    """Gives a pretraining network the ``forward_masks(x_num, x_cat)`` of a supervised one."""

    def __init__(self, net: TabNetPretrainNetwork):
        super().__init__()
        self.net = net

    @property
    def encoder(self):
        return self.net.encoder

    def forward_masks(self, x_num, x_cat):
        return self.net.encoder.forward_masks(self.net.embedder(x_num, x_cat))
