"""Forms and filter sets of the web UI, one module per area. They convert input; services decide what is allowed."""
