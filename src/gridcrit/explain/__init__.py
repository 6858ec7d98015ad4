"""gridcrit.explain stage."""
