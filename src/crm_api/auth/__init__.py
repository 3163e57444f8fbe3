"""Principals, API keys and scopes."""
