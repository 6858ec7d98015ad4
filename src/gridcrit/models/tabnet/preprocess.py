"""Turn numpy / pandas input into TabNet's numeric and categorical tensors.

Rules (stable, saved with the model as JSON):

* **Column names** are kept from a DataFrame (``feature_names_in_``); arrays get ``x0..x{n-1}``.
  At predict time a DataFrame is matched by name (order may differ; a missing column is an error
  naming it); an array must have the same number of columns.
* **Categorical columns** are those named or indexed in ``cat_features``, or — when
  ``cat_features="auto"`` — every column whose pandas dtype is not numeric or boolean
  (object, string, category). Values are compared as strings. Codes ``1..K`` are the categories
  seen in training (sorted); code **0 is reserved** for missing values and for categories never seen
  in training, so new categories at predict time never crash (they share one learned embedding).
* **Numeric columns are standardised** with the training mean and standard deviation. Training is
  unaffected (the first layer is a batch norm) but the input batch norm's *running* statistics,
  used at predict time, then start at the right values: without this, columns with large offsets
  (coordinates near −75.7) are mis-normalised at predict time until the slow (momentum 0.01)
  running mean catches up.
* **Constant columns** (one value in training, or none: no variance, no missingness to learn from)
  are left out of the network, and explanations give them 0. They carry no information, and in
  TabNet they are worse than useless: attention mass put on a column that is always the same changes
  nothing downstream, so the attentive transformer can park mask weight there and the masks name it
  (seen on the twin: always-zero cause counts of transformers first in rows' masks; leaving them out
  removes that, it does not make the masks a good explanation — docs/tabnet.md). If every column is
  constant they are all kept.
* **Numeric NaN** (and ±inf) is replaced by the column's training mean (0 after standardising) and, for every numeric
  column that had missing values in training (``nan_indicators=True``), an extra 0/1 is-missing
  column is added. The indicator shares the attention mask weight of its column, so explanations
  stay per original feature. A column with no NaN in training that gets NaN at predict time is
  imputed with its mean (no indicator was learned).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from gridcrit.errors import ValidationError
from gridcrit.models.base import category_strings, is_constant


@dataclass
class TabularPreprocessor:
    """Fitted column mapping. Build with :meth:`fit`; apply with :meth:`transform`."""

    feature_names: list[str] = field(default_factory=list)
    from_frame: bool = False
    cat_columns: list[str] = field(default_factory=list)  # subset of feature_names, in feature order
    categories: dict[str, list[str]] = field(default_factory=dict)  # col -> sorted training categories
    num_columns: list[str] = field(default_factory=list)
    num_means: list[float] = field(default_factory=list)
    num_stds: list[float] = field(default_factory=list)
    nan_columns: list[str] = field(default_factory=list)  # numeric columns that get an indicator
    constant_columns: list[str] = field(default_factory=list)  # not fed to the network (see module doc)

    # ---- fitting -------------------------------------------------------------------------------
    @classmethod
    def fit(cls, X: Any, cat_features: Any = "auto", nan_indicators: bool = True) -> TabularPreprocessor:
        df, from_frame = _as_frame(X, None)
        if df.shape[0] == 0:  # sklearn's wording, which its estimator checks match
            raise ValidationError(f"X has 0 sample(s) (shape={df.shape}) while a minimum of 1 is required.")
        if df.shape[1] == 0:
            raise ValidationError(f"X has 0 feature(s) (shape={df.shape}) while a minimum of 1 is required.")
        names = [str(c) for c in df.columns]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValidationError(f"duplicate column names in X: {', '.join(dup)}")
        cats = _resolve_cat_features(df, names, cat_features)
        pre = cls(feature_names=names, from_frame=from_frame)
        const = {n for n in names if _is_constant(df[n], n in cats, nan_indicators)}
        if len(const) == len(names):
            const = set()
        for name in names:
            col = df[name]
            if name in const:
                pre.constant_columns.append(name)
            elif name in cats:
                pre.cat_columns.append(name)
                vals = pd.unique(category_strings(col.dropna())).tolist()
                pre.categories[name] = sorted(vals)
            else:
                values = _numeric(col, name)
                finite = np.isfinite(values)
                pre.num_columns.append(name)
                pre.num_means.append(float(values[finite].mean()) if finite.any() else 0.0)
                sd = float(values[finite].std()) if finite.sum() > 1 else 1.0
                pre.num_stds.append(sd if np.isfinite(sd) and sd > 0 else 1.0)
                if nan_indicators and not finite.all():
                    pre.nan_columns.append(name)
        return pre

    # ---- layout --------------------------------------------------------------------------------
    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def model_features(self) -> list[str]:
        """The features the network attends over: all but the constant columns, in feature order."""
        if not self.constant_columns:
            return self.feature_names
        const = set(self.constant_columns)
        return [n for n in self.feature_names if n not in const]

    @property
    def n_model_features(self) -> int:
        return len(self.model_features)

    @property
    def model_positions(self) -> list[int]:
        """Position in ``feature_names`` of each model feature (to scatter explanations back)."""
        pos = {n: i for i, n in enumerate(self.feature_names)}
        return [pos[n] for n in self.model_features]

    def to_features(self, values: np.ndarray) -> np.ndarray:
        """``[..., n_model_features]`` → ``[..., n_features]`` with 0 for the constant columns."""
        if not self.constant_columns:
            return values
        out = np.zeros((*values.shape[:-1], self.n_features), dtype=values.dtype)
        out[..., self.model_positions] = values
        return out

    @property
    def n_num_columns(self) -> int:
        """Numeric tensor width: numeric columns + is-missing indicators."""
        return len(self.num_columns) + len(self.nan_columns)

    @property
    def cat_cardinalities(self) -> list[int]:
        return [len(self.categories[c]) for c in self.cat_columns]

    def group_index(self, cat_emb_dim: int) -> list[int]:
        """Model-feature index (:attr:`model_features`) of every embedded column: numeric, then
        indicators, then embeddings."""
        pos = {n: i for i, n in enumerate(self.model_features)}
        idx = [pos[c] for c in self.num_columns] + [pos[c] for c in self.nan_columns]
        for c in self.cat_columns:
            idx += [pos[c]] * cat_emb_dim
        return idx

    # ---- transform -----------------------------------------------------------------------------
    def transform(self, X: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """``X`` → (numeric float32 ``[n, n_num_columns]``, categorical codes int64 ``[n, n_cat]``)."""
        if isinstance(X, np.ndarray) and X.dtype.kind in "fiub" and not self.cat_columns:
            return self._transform_numeric_array(X)
        df = self.align(X)
        n = df.shape[0]
        x_num = np.empty((n, self.n_num_columns), dtype=np.float32)
        k = len(self.num_columns)
        nan_pos = {c: k + j for j, c in enumerate(self.nan_columns)}
        for j, (name, mean, sd) in enumerate(zip(self.num_columns, self.num_means, self._stds(), strict=True)):
            values = (_numeric(df[name], name) - mean) / sd
            bad = ~np.isfinite(values)
            if bad.any():
                values = np.where(bad, 0.0, values)
            x_num[:, j] = values
            if name in nan_pos:
                x_num[:, nan_pos[name]] = bad
        x_cat = np.zeros((n, len(self.cat_columns)), dtype=np.int64)
        for j, name in enumerate(self.cat_columns):
            # category_strings on both sides: "1.0" (a float code) and "1" (an integer category) are one value
            cats = pd.Index(category_strings(self.categories[name]))
            col = df[name]
            codes = cats.get_indexer(category_strings(col)) + 1  # unseen → -1 + 1 = 0
            codes[col.isna().to_numpy()] = 0
            x_cat[:, j] = codes
        return torch.from_numpy(x_num), torch.from_numpy(x_cat)

    def _transform_numeric_array(self, X: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        # fast path for all-numeric arrays: no per-column pandas work
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValidationError(f"X has shape {X.shape}; the model was trained on {self.n_features} columns")
        if self.constant_columns:  # no categoricals here: the numeric columns are the model features
            X = X[:, self.model_positions]
        values = (X.astype(np.float64) - np.asarray(self.num_means)) / np.asarray(self._stds())
        values = values.astype(np.float32)
        bad = ~np.isfinite(values)
        if bad.any():
            values[bad] = 0.0
        if self.nan_columns:
            pos = {n: i for i, n in enumerate(self.num_columns)}
            cols = [pos[c] for c in self.nan_columns]
            values = np.concatenate([values, bad[:, cols].astype(np.float32)], axis=1)
        return torch.from_numpy(np.ascontiguousarray(values)), torch.zeros((X.shape[0], 0), dtype=torch.int64)

    def _stds(self) -> list[float]:
        return self.num_stds if len(self.num_stds) == len(self.num_columns) else [1.0] * len(self.num_columns)

    def align(self, X: Any) -> pd.DataFrame:
        """``X`` as a DataFrame with the training columns in training order (clear errors if not)."""
        df, from_frame = _as_frame(X, self.feature_names)
        if from_frame and self.from_frame:
            missing = [c for c in self.feature_names if c not in df.columns]
            if missing:
                raise ValidationError(f"X is missing column(s) seen in training: {', '.join(missing)}")
            return df[self.feature_names]
        if df.shape[1] != self.n_features:
            raise ValidationError(f"X has {df.shape[1]} columns; the model was trained on {self.n_features}")
        df.columns = self.feature_names
        return df

    # ---- JSON ----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "feature_names": self.feature_names,
            "from_frame": self.from_frame,
            "cat_columns": self.cat_columns,
            "categories": self.categories,
            "num_columns": self.num_columns,
            "num_means": self.num_means,
            "num_stds": self.num_stds,
            "nan_columns": self.nan_columns,
            "constant_columns": self.constant_columns,
        }

    @classmethod
    def from_dict(cls, d: dict) -> TabularPreprocessor:
        return cls(**d)


def _as_frame(X: Any, names: list[str] | None) -> tuple[pd.DataFrame, bool]:
    if isinstance(X, pd.DataFrame):
        return X.rename(columns=str) if not all(isinstance(c, str) for c in X.columns) else X, True
    if isinstance(X, pd.Series):
        raise ValidationError("X must be 2-D (a DataFrame or a 2-D array), got a Series")
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValidationError(f"X must be 2-D, got an array with shape {arr.shape}")
    cols = names if names is not None and len(names) == arr.shape[1] else [f"x{i}" for i in range(arr.shape[1])]
    return pd.DataFrame(arr, columns=cols, copy=False), False


def _resolve_cat_features(df: pd.DataFrame, names: list[str], cat_features: Any) -> set[str]:
    if cat_features is None:
        return set()
    if isinstance(cat_features, str) and cat_features == "auto":
        return {
            n for n in names
            if not (pd.api.types.is_numeric_dtype(df[n]) or pd.api.types.is_bool_dtype(df[n]))
        }
    out = set()
    for c in cat_features:
        if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
            if not 0 <= c < len(names):
                raise ValidationError(f"cat_features index {c} is out of range for {len(names)} columns")
            out.add(names[c])
        elif str(c) in names:
            out.add(str(c))
        else:
            raise ValidationError(f"cat_features names column {c!r}, which X does not have")
    return out


def _is_constant(col: pd.Series, categorical: bool, nan_indicators: bool) -> bool:
    """Would the network see one value only (value and is-missing indicator)?"""
    if categorical:
        n_cat = col.dropna().astype(str).nunique()
        return n_cat == 0 or (n_cat == 1 and not col.isna().any())
    return is_constant(_numeric(col, str(col.name)), missing_is_input=nan_indicators)


def _numeric(col: pd.Series, name: str) -> np.ndarray:
    """A column as float64, or a ValidationError naming the column and first bad value."""
    if pd.api.types.is_bool_dtype(col):
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    try:
        return pd.to_numeric(col, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError):
        bad = pd.to_numeric(col, errors="coerce").isna() & col.notna()
        row = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else -1
        value = col.iloc[row] if row >= 0 else "?"
        raise ValidationError(
            f"column {name!r} is numeric in the model but row {row} holds {value!r}; "
            "declare it in cat_features or clean it"
        ) from None
