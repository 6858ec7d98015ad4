"""CLI commands of the data stage (thin shell over `gridcrit.data`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
