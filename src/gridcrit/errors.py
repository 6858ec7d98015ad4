"""Errors users see. Every failure a user can cause raises a subclass of :class:`GridcritError`
with a message that names what is wrong (file, row, column, asset, version ...). The CLI prints
that message as one line on stderr and exits non-zero; anything else is a bug and shows a traceback."""

from __future__ import annotations


class GridcritError(Exception):
    """Base class of errors caused by input, configuration or state (not by bugs).

    The message is English; ``es=`` may give the Spanish one, which the CLI prints unless ``--lang en``
    (:meth:`text`)."""

    exit_code: int = 1

    def __init__(self, message: str = "", *args: object, es: str | None = None):
        super().__init__(message, *args)
        self.es = es

    def text(self, lang: str = "es") -> str:
        """The message in ``lang`` (Spanish when given and asked for, else the English one)."""
        es = getattr(self, "es", None)
        return es if lang == "es" and es else str(self)


class ValidationError(GridcritError, ValueError):
    """Input data failed validation. ``problems`` holds ``file:row:column: what`` lines.

    Also a :class:`ValueError`, so that code written for scikit-learn estimators (and sklearn's own
    estimator checks) catches bad input to our models the way it catches theirs."""

    exit_code = 2

    def __init__(self, message: str, problems: list[str] | None = None, n_problems: int | None = None,
                 es: str | None = None, problems_es: list[str] | None = None):
        super().__init__(message, es=es)
        self.problems = problems or []
        self.n_problems = n_problems if n_problems is not None else len(self.problems)
        self.problems_es = problems_es  # the same lines in Spanish, when the raiser has them

    def problem_lines(self, lang: str = "es") -> list[str]:
        """``problems`` in ``lang`` (Spanish when available and asked for, else English)."""
        es = getattr(self, "problems_es", None)
        return es if lang == "es" and es else self.problems


class NotFoundError(GridcritError):
    """A named thing (asset, model version, table, anchor) does not exist."""

    exit_code = 3
