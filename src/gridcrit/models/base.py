"""The shared model contract of the zoo.

Every zoo model is an sklearn estimator (params in ``__init__``, learned state ends in ``_``,
``sklearn.base.clone`` works) with:

* ``fit(X, y, eval_set=None, sample_weight=None)`` — ``X`` a pandas DataFrame (numeric, bool,
  string/category columns; NaN allowed) or a 2-D array; ``eval_set=[(X_val, y_val)]`` enables early
  stopping;
* ``predict(X)`` — values (regression/poisson: expected value; classification: class labels);
* ``predict_proba(X)`` — classification only, columns ordered as ``classes_``;
* ``save(dir)`` — writes ``model.json`` (kind, task, params, small state) plus the weights in a safe
  format (``weights.safetensors``, ``booster.json`` or LightGBM model text). Never pickle.

``gridcrit.models.zoo.load_model(dir)`` reads ``model.json`` and rebuilds the right class.

Tasks: ``"regression"`` (squared error), ``"poisson"`` (non-negative counts/rates, log link) and
``"classification"`` (binary or multiclass). Input problems users can cause (a missing target, a
constant target, a class with one member, no rows) raise :class:`gridcrit.errors.ValidationError`.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import DataConversionWarning, NotFittedError
from sklearn.utils import ClassifierTags, RegressorTags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets

from gridcrit.errors import NotFoundError, ValidationError

TASKS = ("regression", "classification", "poisson")
FORMAT = "gridcrit-model"
FORMAT_VERSION = 1


def check_table(X: Any) -> pd.DataFrame | np.ndarray:
    """``X`` as a DataFrame or a 2-D array. What cannot be a table (sparse, 1-D, complex) fails with a
    ValueError worded as scikit-learn words it: its estimator checks, and users' habits, rely on it."""
    if isinstance(X, pd.DataFrame):
        return X
    if sp.issparse(X):
        raise ValidationError("the models need dense input but X is a sparse matrix; convert it with X.toarray()")
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValidationError(
            f"X must be a 2-D table, got an array with shape {arr.shape}. Reshape your data: X.reshape(-1, 1) "
            "if it has a single feature, X.reshape(1, -1) if it is a single row"
        )
    if arr.dtype.kind == "c":
        raise ValidationError("Complex data not supported: X has a complex dtype")
    return arr


def check_n_features(X: pd.DataFrame | np.ndarray, model: Any) -> None:
    """Predict time: ``X`` has the fitted model's number of columns (sklearn's wording)."""
    if X.shape[1] != model.n_features_in_:
        raise ValidationError(f"X has {X.shape[1]} features, but {type(model).__name__} is expecting "
                              f"{model.n_features_in_} features as input")


def as_frame(X: Any, columns: list[str] | None = None) -> pd.DataFrame:
    """``X`` as a DataFrame with string column names (arrays get ``f0..fN`` or ``columns``)."""
    if isinstance(X, pd.DataFrame):
        df = X
        if not all(isinstance(c, str) for c in df.columns):
            df = df.rename(columns={c: str(c) for c in df.columns})
        return df
    arr = check_table(X)
    cols = columns if columns is not None and len(columns) == arr.shape[1] else [f"f{i}" for i in range(arr.shape[1])]
    return pd.DataFrame(arr, columns=cols)


def is_categorical(s: pd.Series) -> bool:
    """Columns we treat as categories: strings, objects, pandas categoricals."""
    return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s))


def category_strings(values: Any) -> np.ndarray:
    """Category values as the strings models compare (object array): ``str(value)``, except that an
    integral number written as a float loses its ``.0`` (``1.0`` → ``"1"``).

    Why: the criticality dataset stores category codes as float32 columns, while the training
    workflow hands them to the models as pandas categories of integers; read as strings those are
    ``"1.0"`` and ``"1"``, and every served row would count as an unseen category. Leading zeros
    (``"05001"``) are kept: only a trailing ``.0…`` is dropped.
    """
    st = pd.Series(values).astype(str)
    uniq = pd.unique(st.to_numpy())
    fix = {u: u.split(".")[0] for u in uniq if isinstance(u, str) and _INTEGRAL_FLOAT.fullmatch(u)}
    return (st.replace(fix) if fix else st).to_numpy(dtype=object)


_INTEGRAL_FLOAT = re.compile(r"-?\d+\.0+")


def check_task(task: str) -> str:
    if task not in TASKS:
        raise ValidationError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return task


def check_target(y: Any, task: str, what: str = "target", min_class_members: int = 2) -> np.ndarray:
    """Validate ``y`` for ``task`` and return it as a 1-D array (clear messages, no tracebacks).

    ``min_class_members``: the workflows (train, compare) refuse a class seen once — on the
    utility's tables that is nearly always a mistyped label; the estimators themselves accept it
    (``1``), as sklearn estimators do."""
    y_arr = np.asarray(y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else y)
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected; using y.ravel()",
                      DataConversionWarning, stacklevel=3)
        y_arr = y_arr[:, 0]
    if y_arr.ndim != 1:
        raise ValidationError(f"{what} must be one column, got shape {y_arr.shape}")
    if len(y_arr) == 0:
        raise ValidationError(f"{what} has no rows: nothing to train on")
    if task == "classification":
        ser = pd.Series(y_arr)
        if ser.isna().any():
            raise ValidationError(f"{what} has {int(ser.isna().sum())} missing class labels")
        if ser.dtype.kind == "f" and not np.isfinite(y_arr).all():
            raise ValidationError(f"{what} has infinite class labels")
        try:
            check_classification_targets(y_arr)
        except ValueError as e:  # "Unknown label type: continuous ..." for a regression target
            raise ValidationError(f"{what}: {e}") from None
        counts = ser.astype(str).value_counts()
        if len(counts) < 2:
            raise ValidationError(f"{what} has only 1 class ({counts.index[0]!r}): nothing to classify")
        lonely = counts[counts < min_class_members]
        if len(lonely):
            raise ValidationError(
                f"{what}: class {lonely.index[0]!r} has only one member; merge it or add data "
                f"({len(lonely)} class(es) with one member)"
            )
        return y_arr
    try:
        y_num = y_arr.astype(float)
    except (TypeError, ValueError) as e:
        raise ValidationError(f"{what} must be numeric for task {task!r}: {e}") from e
    bad = ~np.isfinite(y_num)
    if bad.any():
        raise ValidationError(f"{what} has {int(bad.sum())} missing or infinite values (first at row {int(np.argmax(bad))})")
    if np.nanmax(y_num) == np.nanmin(y_num):
        raise ValidationError(f"{what} is constant ({y_num[0]:g}) over all {len(y_num)} rows: nothing to learn")
    if task == "poisson" and (y_num < 0).any():
        raise ValidationError(f"{what} has negative values (row {int(np.argmax(y_num < 0))}); task 'poisson' needs y >= 0")
    return y_num


def check_rows(X: pd.DataFrame, y: np.ndarray | None = None, what: str = "X") -> None:
    if len(X) == 0:
        raise ValidationError(f"{what} has 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
    if X.shape[1] == 0:
        raise ValidationError(f"{what} has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    if y is not None and len(y) != len(X):
        raise ValidationError(f"{what} has {len(X)} rows but the target has {len(y)}")


class LabelCodec:
    """Class labels <-> integer codes 0..K-1 (labels kept as JSON-able python values)."""

    def __init__(self, classes: list[Any]):
        self.classes = list(classes)
        self._index = {str(c): i for i, c in enumerate(self.classes)}

    @classmethod
    def fit(cls, y: np.ndarray) -> LabelCodec:
        uniq = pd.unique(pd.Series(y))
        try:
            uniq = sorted(uniq)
        except TypeError:
            uniq = sorted(uniq, key=str)
        return cls([v.item() if hasattr(v, "item") else v for v in uniq])

    def encode(self, y: np.ndarray) -> np.ndarray:
        try:
            return np.array([self._index[str(v)] for v in y], dtype=np.int64)
        except KeyError as e:
            raise ValidationError(f"class label {e.args[0]!r} was not seen in training ({self.classes})") from None

    def decode(self, codes: np.ndarray) -> np.ndarray:
        return self.array()[codes]

    def array(self) -> np.ndarray:
        """The classes as an array of their own dtype (int labels stay ints; mixed ones are objects)."""
        return np.asarray(self.classes, dtype=object if len({type(c) for c in self.classes}) > 1 else None)


def check_sample_weight(sample_weight: Any, n_rows: int) -> np.ndarray:
    """One finite, non-negative weight per row, not all zero, as float64."""
    w = np.asarray(sample_weight, dtype=float)
    if w.shape != (n_rows,):
        raise ValidationError(f"sample_weight has shape {w.shape}; expected one value per row, ({n_rows},)")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValidationError("sample_weight must be finite and non-negative")
    if not w.any():
        raise ValidationError("Sample weights must contain at least one non-zero number")
    return w


def is_constant(values: np.ndarray, missing_is_input: bool = True) -> bool:
    """A numeric column a model can learn nothing from: no finite value, or one finite value and — when
    a "was missing" indicator is an input — no missing ones (float array, NaN/inf = missing)."""
    fin = values[np.isfinite(values)]
    return len(fin) == 0 or (bool(fin.min() == fin.max()) and (len(fin) == len(values) or not missing_is_input))


class TabularEncoder:
    """Learns how to turn a mixed table into numbers (JSON-serialisable, no pickle).

    * numeric columns: mean/std for standardisation; NaN -> the training mean (0 after scaling) plus a
      0/1 "was missing" column for every column that had NaN in training;
    * categorical columns: vocabulary of the ``max_categories`` most frequent values; code 0 means
      unknown or missing, so categories unseen in training do not break prediction.
    """

    def __init__(self, max_categories: int = 256):
        self.max_categories = max_categories

    def fit(self, X: pd.DataFrame) -> TabularEncoder:
        self.columns = [str(c) for c in X.columns]
        self.num_cols: list[str] = []
        self.cat_cols: list[str] = []
        self.mean: dict[str, float] = {}
        self.std: dict[str, float] = {}
        self.median: dict[str, float] = {}
        self.nan_cols: list[str] = []
        self.vocab: dict[str, list[str]] = {}
        self._constant_num: list[str] = []
        for c in self.columns:
            s = X[c]
            if is_categorical(s):
                self.cat_cols.append(c)
                vc = pd.Series(category_strings(s.dropna())).value_counts()
                self.vocab[c] = [str(v) for v in vc.index[: self.max_categories]]
            else:
                self.num_cols.append(c)
                v = pd.to_numeric(s, errors="coerce").astype(float).to_numpy()
                fin = v[np.isfinite(v)]
                self.mean[c] = float(fin.mean()) if len(fin) else 0.0
                sd = float(fin.std()) if len(fin) else 1.0
                self.std[c] = sd if sd > 1e-12 else 1.0
                self.median[c] = float(np.median(fin)) if len(fin) else 0.0
                if len(fin) < len(v):
                    self.nan_cols.append(c)
                if is_constant(v):  # not saved: models that leave such columns out record their own list
                    self._constant_num.append(c)
        return self

    def _check_columns(self, X: pd.DataFrame) -> None:
        missing = [c for c in self.columns if c not in X.columns]
        if missing:
            raise ValidationError(f"X lacks feature column(s) the model was trained on: {', '.join(missing[:5])}")

    def numeric_raw(self, X: pd.DataFrame) -> np.ndarray:
        """Numeric columns as float64 with NaN kept (for trees)."""
        self._check_columns(X)
        if not self.num_cols:
            return np.zeros((len(X), 0))
        return X[self.num_cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, na_value=np.nan)

    def numeric(self, X: pd.DataFrame) -> np.ndarray:
        """Standardised numeric columns + missing indicators, float32, no NaN (for neural nets)."""
        raw = self.numeric_raw(X)
        mu = np.array([self.mean[c] for c in self.num_cols])
        sd = np.array([self.std[c] for c in self.num_cols])
        z = (raw - mu) / sd if self.num_cols else raw
        miss = ~np.isfinite(z)
        z = np.where(miss, 0.0, np.clip(z, -10, 10))
        ind = [miss[:, self.num_cols.index(c)].astype(float)[:, None] for c in self.nan_cols]
        return np.hstack([z, *ind]).astype(np.float32) if ind else z.astype(np.float32)

    @property
    def n_numeric_out(self) -> int:
        return len(self.num_cols) + len(self.nan_cols)

    def codes(self, X: pd.DataFrame) -> np.ndarray:
        """Categorical columns as int64 codes 1..V (0 = unknown/missing)."""
        self._check_columns(X)
        out = np.zeros((len(X), len(self.cat_cols)), dtype=np.int64)
        for j, c in enumerate(self.cat_cols):
            # vocabularies saved before category_strings existed may hold "1.0": compare both sides alike
            index = {v: i + 1 for i, v in enumerate(category_strings(self.vocab[c]))}
            s = X[c]
            out[:, j] = pd.Series(category_strings(s)).map(index).fillna(0).to_numpy(dtype=np.int64)
            out[s.isna().to_numpy(), j] = 0
        return out

    @property
    def cardinalities(self) -> list[int]:
        """Embedding table sizes (vocabulary + 1 for unknown)."""
        return [len(self.vocab[c]) + 1 for c in self.cat_cols]

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("max_categories", "columns", "num_cols", "cat_cols", "mean", "std",
                                                "median", "nan_cols", "vocab")}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TabularEncoder:
        enc = cls(d["max_categories"])
        for k, v in d.items():
            setattr(enc, k, v)
        return enc


def read_model_json(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    f = path / "model.json"
    if not f.exists():
        raise NotFoundError(f"no model.json in {path}: not a saved gridcrit model")
    meta = json.loads(f.read_text())
    if meta.get("format") != FORMAT:
        raise ValidationError(f"{f} is not a gridcrit model (format={meta.get('format')!r})")
    return meta


class ZooModel(BaseEstimator):
    """Base class: shared input checks, label handling and the ``model.json`` round trip.

    Subclasses set ``kind`` and implement ``_fit``, ``_predict_raw`` (regression: values; poisson:
    expected counts; classification: class probabilities), ``_state`` / ``_load_state`` and
    ``_save_weights`` / ``_load_weights``.
    """

    kind: ClassVar[str] = "base"

    # -- sklearn conveniences ------------------------------------------------------------------
    def __sklearn_tags__(self):
        # a classifier or a regressor by ``task`` (sklearn's scorers, CV splitters and checks read this)
        tags = super().__sklearn_tags__()
        if getattr(self, "task", "regression") == "classification":
            tags.estimator_type, tags.classifier_tags = "classifier", ClassifierTags()
        else:
            tags.estimator_type, tags.regressor_tags = "regressor", RegressorTags()
        tags.input_tags.allow_nan = True  # missing values are inputs (trees natively, nets via indicators)
        tags.input_tags.categorical = tags.input_tags.string = True
        return tags

    # -- public API ----------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, eval_set: list[tuple[Any, Any]] | None = None,
            sample_weight: Any = None) -> ZooModel:
        """Fit on ``X``/``y``; ``eval_set=[(X_val, y_val)]`` drives early stopping."""
        check_task(self.task)
        X = as_frame(X)
        if y is None:
            raise ValidationError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        if len(X) == 1:
            raise ValidationError(f"n_samples=1: {type(self).__name__} needs at least 2 training rows")
        y_arr = check_target(y, self.task, min_class_members=1)
        check_rows(X, y_arr)
        self.feature_names_in_ = np.array([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        if self.task == "classification":
            self.codec_ = LabelCodec.fit(y_arr)
            self.classes_ = self.codec_.array()
            y_fit = self.codec_.encode(y_arr)
        else:
            y_fit = y_arr.astype(float)
        ev = None
        if eval_set:
            if len(eval_set) != 1:
                raise ValidationError("eval_set takes exactly one (X_val, y_val) pair")
            Xv, yv = eval_set[0]
            Xv = as_frame(Xv, list(self.feature_names_in_))
            yv = np.asarray(yv.to_numpy() if hasattr(yv, "to_numpy") else yv)
            check_rows(Xv, yv, "eval_set X")
            yv = self.codec_.encode(yv) if self.task == "classification" else yv.astype(float)
            ev = (Xv, yv)
        sw = None if sample_weight is None else check_sample_weight(sample_weight, len(X))
        self._fit(X, y_fit, ev, sw)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values (class labels for classification)."""
        raw = self._predict_raw(self._prepare(X))
        if self.task == "classification":
            return self.codec_.decode(np.argmax(raw, axis=1))
        return np.asarray(raw, dtype=float)

    @available_if(lambda self: self.task == "classification")  # a regressor has no predict_proba at all
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``[n, n_classes]`` (classification only)."""
        return np.asarray(self._predict_raw(self._prepare(X)), dtype=float)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy (classification) or R² (regression, poisson), as sklearn's classifiers and regressors."""
        from sklearn.metrics import accuracy_score, r2_score

        metric = accuracy_score if self.task == "classification" else r2_score
        return float(metric(y, self.predict(X), sample_weight=sample_weight))

    def save(self, path: str | Path) -> None:
        """Write ``model.json`` + weights into folder ``path`` (created)."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        weights = self._save_weights(path)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "task": self.task,
            "params": _jsonable_params(self.get_params()),
            "feature_names": [str(c) for c in self.feature_names_in_],
            "classes": self.codec_.classes if self.task == "classification" else None,
            "weights": weights,
            "state": self._state(),
        }
        (path / "model.json").write_text(json.dumps(meta, indent=1, default=_json_default))

    @classmethod
    def load(cls, path: str | Path) -> ZooModel:
        """Rebuild a model written by :meth:`save`."""
        path = Path(path)
        meta = read_model_json(path)
        if meta["kind"] != cls.kind:
            raise ValidationError(f"{path} holds a {meta['kind']!r} model, not {cls.kind!r}")
        model = cls(**meta["params"])
        model.feature_names_in_ = np.array(meta["feature_names"], dtype=object)
        model.n_features_in_ = len(meta["feature_names"])
        if meta["classes"] is not None:
            model.codec_ = LabelCodec(meta["classes"])
            model.classes_ = model.codec_.array()
        model._load_state(meta["state"])
        model._load_weights(path)
        return model

    # -- helpers -------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "feature_names_in_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit() first")

    def _prepare(self, X: Any) -> pd.DataFrame:
        self._check_fitted()
        X = check_table(X)
        if not isinstance(X, pd.DataFrame):  # a DataFrame is matched by column name instead
            check_n_features(X, self)
        X = as_frame(X, list(self.feature_names_in_))
        if len(X) == 0:
            raise ValidationError("X has no rows to predict")
        return X

    @property
    def n_outputs_(self) -> int:
        return len(self.codec_.classes) if self.task == "classification" else 1

    # subclasses
    def _fit(self, X: pd.DataFrame, y: np.ndarray, eval_set: tuple[pd.DataFrame, np.ndarray] | None,
             sample_weight: np.ndarray | None) -> None:
        raise NotImplementedError

    def _predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:
        pass

    def _save_weights(self, path: Path) -> list[str]:
        return []

    def _load_weights(self, path: Path) -> None:
        pass


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def _jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(params, default=_json_default))


def model_size_bytes(path: str | Path) -> int:
    """Bytes on disk of a saved model folder."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
