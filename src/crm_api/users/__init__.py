"""Users of a tenant."""
