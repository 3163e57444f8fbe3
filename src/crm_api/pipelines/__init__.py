"""Pipelines and their stages: how a tenant's deals move from first contact to won or lost."""
