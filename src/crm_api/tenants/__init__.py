"""Tenants: the companies that share one deployment."""
