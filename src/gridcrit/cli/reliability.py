"""CLI commands of the reliability stage (thin shell over `gridcrit.reliability`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
