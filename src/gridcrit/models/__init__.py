"""gridcrit.models stage."""
