"""Shared mechanisms with no domain knowledge."""
