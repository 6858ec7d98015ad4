"""Data-quality reports of the reliability stage.

Bad input (assets on unknown nodes, loops, events on unknown devices, months without customers ...) is
never dropped silently: each kind of problem is recorded as a :class:`Problem` with its full count, a few
examples and, where it matters, what it weighs (e.g. the customer interruptions it carries). Reports are
plain data: ``to_dict()`` for ``--json``, ``lines(lang)`` for people.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_EXAMPLES = 5


@dataclass
class Problem:
    """One kind of problem: ``count`` occurrences, the first examples, an explanation in es/en."""

    kind: str
    count: int
    examples: list[str]
    message_es: str
    message_en: str
    severity: str = "warning"  # "warning": results exclude or flag the affected items; "info": noted only
    weight: dict[str, float] = field(default_factory=dict)  # e.g. {"customer_interruptions": 1234}

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "count": int(self.count),
            "examples": list(self.examples),
            "message": self.message_en,
            "mensaje": self.message_es,
            **({"weight": self.weight} if self.weight else {}),
        }

    def line(self, lang: str = "es") -> str:
        msg = self.message_es if lang == "es" else self.message_en
        ex = ", ".join(self.examples)
        w = "".join(f"; {k}={v:.6g}" for k, v in self.weight.items())
        more = (" (ej.: " if lang == "es" else " (e.g. ") + ex + ")" if ex else ""
        return f"[{self.severity}] {self.kind}: {self.count} — {msg}{more}{w}"


@dataclass
class ProblemReport:
    """A list of :class:`Problem` plus free-form facts (``info``) about the computation."""

    problems: list[Problem] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def add(
        self,
        kind: str,
        items: Sequence[Any] | Iterable[Any],
        message_es: str,
        message_en: str,
        *,
        count: int | None = None,
        severity: str = "warning",
        weight: dict[str, float] | None = None,
    ) -> Problem | None:
        """Record ``items`` (all of them or the first few, ``count`` = the true total). No-op if empty."""
        items = list(items)
        n = len(items) if count is None else int(count)
        if n == 0:
            return None
        p = Problem(
            kind=kind,
            count=n,
            examples=[str(x) for x in items[:MAX_EXAMPLES]],
            message_es=message_es,
            message_en=message_en,
            severity=severity,
            weight={k: float(v) for k, v in (weight or {}).items()},
        )
        self.problems.append(p)
        return p

    def get(self, kind: str) -> Problem | None:
        """The problem of that kind, or None."""
        return next((p for p in self.problems if p.kind == kind), None)

    def count(self, kind: str) -> int:
        p = self.get(kind)
        return 0 if p is None else p.count

    @property
    def ok(self) -> bool:
        """True when no warning-level problem was found."""
        return not any(p.severity == "warning" for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": [p.to_dict() for p in self.problems], "info": self.info}

    def lines(self, lang: str = "es") -> list[str]:
        if not self.problems:
            return ["sin problemas" if lang == "es" else "no problems"]
        return [p.line(lang) for p in self.problems]
