"""gridcrit.explain stage: attributions, agreement, ground-truth checks, plots and reports.

Modules: ``attribution`` (one entry point :func:`~gridcrit.explain.attribution.attribute`: TabNet masks,
TreeSHAP exact/approximate, integrated gradients, permutation), ``integrated_gradients``,
``permutation``, ``agreement`` and ``stability`` (methods, seeds, CV folds, feature groups), ``truth``
(twin drivers, Syn1–Syn6), ``local`` (es/en text), ``plots`` (PNG + HTML), ``report`` (HTML report).
See ``docs/explanations.md``.
"""
