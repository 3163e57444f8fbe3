"""Housekeeping sweeps that visit every tenant."""
