"""Stage functions: one per pipeline component, each validating nothing but doing the work."""
