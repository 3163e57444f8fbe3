"""Deals: what a tenant may win, moving through the stages of a pipeline."""
