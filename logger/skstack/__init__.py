"""SKSTACK-IP dongles: events, line parser, command builders, one module per dialect, detection."""
