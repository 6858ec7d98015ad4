"""gridcrit.data stage."""
