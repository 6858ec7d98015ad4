"""gridcrit.reliability stage: IEEE 1366 indices and the network as a graph.

- :mod:`~gridcrit.reliability.indices` — :func:`compute_indices` (SAIFI, SAIDI, CAIDI, ASAI, MAIFI and
  contributions by system | circuit | municipality | transformer | switch | segment and month | quarter | year);
- :mod:`~gridcrit.reliability.med` — IEEE 1366 2.5β major event days;
- :mod:`~gridcrit.reliability.customers` — customer base per month and group;
- :mod:`~gridcrit.reliability.topology` — :class:`Topology`: radiality check, downstream sets, depth and
  upstream protection of every device (array-based, CHEC scale in about a second);
- :mod:`~gridcrit.reliability.report` — data-problem reports (counts + examples, never silent drops).

See ``docs/reliability.md``.
"""
