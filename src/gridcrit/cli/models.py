"""CLI commands of the models stage (thin shell over `gridcrit.models`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
