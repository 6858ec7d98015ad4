"""scikit-learn's own estimator checks on the three TabNet estimators (input validation and its
error wording, NotFittedError, get_params/set_params/clone, n_features_in_, feature names,
pickling, fit idempotence, sample and class weights, fitting simple problems well enough).

Two checks are expected to fail, for reasons inherent to mini-batch training in float32 (listed
with the reason below); every other check must pass.
"""

from __future__ import annotations

import inspect

import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from gridcrit.models.tabnet import (
    TabNetClassifier,
    TabNetEnsembleClassifier,
    TabNetPretrainer,
    TabNetRegressor,
)

# small and quick, but trained long enough for sklearn's "fits an easy problem" checks
_SMALL = dict(n_d=8, n_a=8, n_steps=2, max_epochs=25, batch_size=64, virtual_batch_size=16, n_threads=1)

_EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "mini-batch training: a weight of 2 and a repeated row give different batches and steps, so the "
        "fitted weights differ (the loss itself is: test_weighted_loss_equals_repeated_rows)"
    ),
    "check_methods_subset_invariance": (
        "float32: BLAS picks its kernels by batch size, so a row's prediction can differ in the last "
        "bits (~1e-7 relative) with the rows predicted beside it"
    ),
}


def _expected_failures(estimator) -> dict[str, str]:
    if isinstance(estimator, TabNetPretrainer):
        return {}
    return _EXPECTED_FAILURES


@parametrize_with_checks(
    [TabNetClassifier(**_SMALL), TabNetRegressor(**_SMALL), TabNetPretrainer(**_SMALL)],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_signature_lists_every_hyperparameter():
    # the subclasses take the base's parameters through **kwargs; their public signature shows all
    for cls, own in ((TabNetClassifier, "class_weight"), (TabNetRegressor, "objective"),
                     (TabNetPretrainer, "pretraining_ratio")):
        params = inspect.signature(cls).parameters
        assert own in params and "n_d" in params and "lambda_sparse" in params
        assert all(p.kind == p.KEYWORD_ONLY for p in params.values())
        est = cls(n_d=4, seed=3)
        assert clone(est).get_params()["n_d"] == 4 and clone(est).get_params()["seed"] == 3


def test_weighted_loss_equals_repeated_rows():
    # what check_sample_weight_equivalence asks of the whole fit, on the loss: weight 2 = the row twice
    import torch

    torch.manual_seed(0)
    out, yc, yr = torch.randn(6, 2), torch.tensor([0, 1, 1, 0, 1, 0]), torch.randn(6, 2)
    w = torch.tensor([2.0, 1.0, 0.0, 1.0, 3.0, 1.0])
    keep = torch.tensor([0, 0, 1, 3, 4, 4, 4, 5])
    for est, y in ((TabNetClassifier(), yc), (TabNetRegressor(), yr), (TabNetRegressor(objective="poisson"), yr.abs())):
        assert torch.allclose(est._loss(out, y, w), est._loss(out[keep], y[keep], None)), est


@pytest.mark.slow  # each check fits two members (~25 s in all); the regressor shares the code and is
# checked in tests/test_tabnet_ensemble.py (multi-output tag, 2-D targets, mean of the members)
@parametrize_with_checks(
    [TabNetEnsembleClassifier(TabNetClassifier(**_SMALL), n_members=2)],
    expected_failed_checks=lambda est: _EXPECTED_FAILURES,
)
def test_sklearn_estimator_checks_on_seed_ensembles(estimator, check):
    check(estimator)
