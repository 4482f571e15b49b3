"""Web UI views, one module per area. Views stay thin: they check access, call services and render."""
