"""CLI commands of the explain stage (thin shell over `gridcrit.explain`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
