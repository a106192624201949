"""Reference observers and analyses that put task-network results in context."""
