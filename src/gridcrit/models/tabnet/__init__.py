"""gridcrit's own TabNet (Arik & Pfister, AAAI 2021): fast on CPU, sklearn-native, explainable.

Modules: ``sparsemax`` (sparsemax, entmax-1.5), ``layers`` (ghost BN, GLU blocks, transformers),
``network`` (encoder, decoder, heads), ``preprocess`` (pandas/numpy, categories, NaN), ``training``
(the loop), ``estimators`` (the public classes), ``ensemble`` (seed ensembles), ``io`` (JSON +
safetensors). See ``docs/tabnet.md``.
"""

from gridcrit.models.tabnet.ensemble import TabNetEnsembleClassifier, TabNetEnsembleRegressor
from gridcrit.models.tabnet.estimators import TabNetClassifier, TabNetPretrainer, TabNetRegressor
from gridcrit.models.tabnet.io import load

__all__ = ["TabNetClassifier", "TabNetEnsembleClassifier", "TabNetEnsembleRegressor", "TabNetPretrainer",
           "TabNetRegressor", "load"]
