"""gridcrit.assistant stage."""
