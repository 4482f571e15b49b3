"""REST API of traceability: lots, runs, genealogy."""
