"""gridcrit.reliability stage."""
