"""gridcrit.app stage."""
