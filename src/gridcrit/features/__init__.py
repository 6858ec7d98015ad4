"""gridcrit.features stage: the leakage-free asset x period criticality dataset.

- :mod:`~gridcrit.features.dataset` — ``build_dataset`` / ``CriticalityDataset`` / ``read_dataset``
- :mod:`~gridcrit.features.splits` — ``rolling_origin_splits``, ``relabel_risk``
- :mod:`~gridcrit.features.targets` — targets and ``RiskBinner`` (Bajo / Medio / Alto / Muy Alto)
- :mod:`~gridcrit.features.attributes`, :mod:`~gridcrit.features.topology_features`,
  :mod:`~gridcrit.features.exposure`, :mod:`~gridcrit.features.history` — the feature groups
- :mod:`~gridcrit.features.datacard` — meaning, unit, time basis and physical driver of every column
- :mod:`~gridcrit.features.sample_store` — a small hand-made utility store for tests and benchmarks
"""
