"""Save / load TabNet estimators as ``model.json`` + ``weights.safetensors`` (never pickle).

``model.json`` holds everything needed to rebuild the estimator: the format name and version, the
gridcrit and torch versions that wrote it, the estimator class, its hyperparameters, the input
mapping (feature names, category lists, NaN indicators), classes / target scaling, the global
feature importances and the fit statistics. ``weights.safetensors`` holds the network's tensors
(parameters and batch-norm running statistics).

A file whose format **major** version differs from :data:`FORMAT_VERSION`'s raises
:class:`gridcrit.errors.ValidationError` naming both versions; minor versions only add fields.

Example::

    >>> clf.save("models/tabnet_v1")
    >>> clf2 = TabNetClassifier.load("models/tabnet_v1")   # or gridcrit.models.tabnet.load(...)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from gridcrit.errors import NotFoundError, ValidationError
from gridcrit.models.tabnet.preprocess import TabularPreprocessor

FORMAT = "gridcrit-tabnet"
FORMAT_VERSION = "1.0"
MODEL_FILE = "model.json"
WEIGHTS_FILE = "weights.safetensors"


def _estimator_classes() -> dict[str, type]:
    from gridcrit.models.tabnet.estimators import TabNetClassifier, TabNetPretrainer, TabNetRegressor

    return {c.__name__: c for c in (TabNetClassifier, TabNetRegressor, TabNetPretrainer)}


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v


def save_estimator(est: Any, path: str | Path) -> None:
    """Write a fitted estimator into directory ``path`` (created if needed; files replaced atomically)."""
    import gridcrit

    est._check_fitted()
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    try:
        importances = est.feature_importances_.tolist()
    except Exception:  # a model loaded without importances and no training sample
        importances = None
    cfg: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "gridcrit_version": gridcrit.__version__,
        "torch_version": torch.__version__,
        "kind": "tabnet",
        "estimator": type(est).__name__,
        "task": est._task,
        "params": _jsonable(est.get_params()),
        "preprocessor": est.preprocessor_.to_dict(),
        "feature_importances": importances,
        "fit_stats": _jsonable(getattr(est, "fit_stats_", None)),
        "n_fits": getattr(est, "n_fits_", 1),
    }
    if hasattr(est, "classes_"):
        cfg["classes"] = _jsonable(est.classes_)
    if hasattr(est, "n_outputs_"):
        cfg["target"] = {
            "n_outputs": int(est.n_outputs_), "y_1d": bool(est.y_1d_),
            "mean": _jsonable(est.y_mean_), "scale": _jsonable(est.y_scale_),
        }
    # clone: shared weights (the shared GLU linears) appear under several names in state_dict,
    # and safetensors refuses aliased tensors
    tensors = {k: v.detach().clone().contiguous() for k, v in est.network_.state_dict().items()}
    tmp_w = path / (WEIGHTS_FILE + ".tmp")
    tmp_j = path / (MODEL_FILE + ".tmp")
    save_file(tensors, str(tmp_w), metadata={"format": FORMAT, "format_version": FORMAT_VERSION})
    tmp_j.write_text(json.dumps(cfg, indent=1, ensure_ascii=False))
    tmp_w.replace(path / WEIGHTS_FILE)
    tmp_j.replace(path / MODEL_FILE)


def read_config(path: str | Path) -> dict:
    """Read and version-check ``model.json`` of a saved TabNet model."""
    path = Path(path)
    f = path / MODEL_FILE
    if not f.exists():
        raise NotFoundError(f"no TabNet model at {path}: {MODEL_FILE} is missing")
    try:
        cfg = json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise ValidationError(f"{f}: not valid JSON ({e})") from None
    if cfg.get("format") != FORMAT:
        raise ValidationError(f"{f}: format is {cfg.get('format')!r}, expected {FORMAT!r}")
    version = str(cfg.get("format_version", "?"))
    if version.split(".")[0] != FORMAT_VERSION.split(".")[0]:
        raise ValidationError(
            f"{f}: written with TabNet model format {version} (gridcrit {cfg.get('gridcrit_version', '?')}); "
            f"this gridcrit reads format {FORMAT_VERSION.split('.')[0]}.x. Retrain the model or load it with a "
            "matching gridcrit version."
        )
    return cfg


def load_estimator(path: str | Path) -> Any:
    """Rebuild an estimator saved by :func:`save_estimator`."""
    path = Path(path)
    cfg = read_config(path)
    classes = _estimator_classes()
    name = cfg.get("estimator")
    if name not in classes:
        raise ValidationError(f"{path / MODEL_FILE}: unknown estimator {name!r}")
    cls = classes[name]
    params = cfg["params"]
    est = cls(**{k: v for k, v in params.items() if k in cls._get_param_names()})
    est.preprocessor_ = TabularPreprocessor.from_dict(cfg["preprocessor"])
    est.n_features_in_ = est.preprocessor_.n_features
    if est.preprocessor_.from_frame:
        est.feature_names_in_ = np.asarray(est.preprocessor_.feature_names, dtype=object)
    est._generator_ = torch.Generator().manual_seed(int(est.seed))
    if "classes" in cfg:
        est.classes_ = np.asarray(cfg["classes"])
    if "target" in cfg:
        t = cfg["target"]
        est.n_outputs_, est.y_1d_ = t["n_outputs"], t["y_1d"]
        est.y_mean_, est.y_scale_ = np.asarray(t["mean"]), np.asarray(t["scale"])
    from gridcrit.models.tabnet.network import TabNetNetwork

    if name == "TabNetPretrainer":
        net = est._build_pretrain()
    else:
        net = est._build(TabNetNetwork, n_outputs=est._n_outputs())
    wf = path / WEIGHTS_FILE
    if not wf.exists():
        raise NotFoundError(f"{path}: {WEIGHTS_FILE} is missing")
    tensors = load_file(str(wf))
    missing, unexpected = net.load_state_dict(tensors, strict=False)
    if missing or unexpected:
        raise ValidationError(
            f"{wf}: weights do not match the saved configuration (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    net.eval()
    est.network_ = net
    imp = cfg.get("feature_importances")
    est._feature_importances = None if imp is None else np.asarray(imp, dtype=np.float64)
    est._importance_sample = None
    est.fit_stats_ = cfg.get("fit_stats")
    est.n_fits_ = cfg.get("n_fits", 1)
    return est


def load(path: str | Path) -> Any:
    """Load any saved TabNet estimator (classifier, regressor or pretrainer)."""
    return load_estimator(path)
