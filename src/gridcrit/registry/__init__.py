"""gridcrit.registry stage."""
