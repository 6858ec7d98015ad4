"""Self-supervised pretraining, then fine-tuning with few labels (the paper's semi-supervised claim)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from gridcrit.errors import ValidationError
from gridcrit.models.tabnet import TabNetClassifier, TabNetPretrainer

ARCH = {"n_d": 8, "n_a": 8, "n_steps": 3, "n_threads": 1, "virtual_batch_size": 128}


def latent_data(n: int, seed: int):
    """30 noisy views of 4 latent factors; the label is a nonlinear function of the factors.

    Reconstructing hidden features forces the encoder to find the factors, which is what the
    few-label classifier needs.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 4))
    a = np.random.default_rng(99).normal(size=(4, 30))
    X = np.tanh(z @ a / 2) + 0.3 * rng.normal(size=(n, 30))
    logit = 2 * z[:, 0] * z[:, 1] + 2 * np.abs(z[:, 2]) - 1.5
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X.astype(np.float32), y


def test_pretrainer_fits_and_round_trips(tmp_path):
    X, _ = latent_data(2000, 0)
    pre = TabNetPretrainer(**ARCH, max_epochs=3, batch_size=512).fit(X[:1500], eval_set=[X[1500:]])
    assert len(pre.history_) == 3 and np.isfinite(pre.history_[-1]["loss"])
    pre.save(tmp_path / "p")
    again = TabNetPretrainer.load(tmp_path / "p")
    assert np.array_equal(again.reconstruct(X[:10]), pre.reconstruct(X[:10]))
    imp, masks = pre.explain(X[:20])
    assert imp.shape == (20, 30) and masks.shape == (3, 20, 30)
    with pytest.raises(ValidationError, match="n_d=8"):
        TabNetClassifier(n_d=16, n_a=8, n_steps=3, max_epochs=1).fit(X[:100], np.arange(100) % 2, from_pretrained=pre)


@pytest.mark.slow
def test_pretraining_beats_scratch_with_1k_labels():
    X_unl, _ = latent_data(20_000, 1)
    X, y = latent_data(1000, 2)
    X_test, y_test = latent_data(5000, 3)
    pre = TabNetPretrainer(**ARCH, max_epochs=40, batch_size=1024, lr=0.02, patience=5, pretraining_ratio=0.3)
    pre.fit(X_unl[:18_000], eval_set=[X_unl[18_000:]])
    fit_kw = {"eval_set": [(X[800:], y[800:])]}
    common = {**ARCH, "max_epochs": 80, "batch_size": 256, "patience": 15, "lr": 0.01}
    aucs = {"scratch": [], "pretrained": []}
    for seed in (0, 1):
        scratch = TabNetClassifier(**common, seed=seed).fit(X[:800], y[:800], **fit_kw)
        tuned = TabNetClassifier(**common, seed=seed).fit(X[:800], y[:800], from_pretrained=pre, **fit_kw)
        aucs["scratch"].append(roc_auc_score(y_test, scratch.predict_proba(X_test)[:, 1]))
        aucs["pretrained"].append(roc_auc_score(y_test, tuned.predict_proba(X_test)[:, 1]))
    print(aucs)
    assert np.mean(aucs["pretrained"]) > np.mean(aucs["scratch"]) + 0.01, aucs
