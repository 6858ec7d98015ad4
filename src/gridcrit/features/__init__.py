"""gridcrit.features stage."""
