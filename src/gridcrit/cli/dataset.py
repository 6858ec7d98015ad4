"""CLI commands of the criticality dataset (thin shell over `gridcrit.features`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
