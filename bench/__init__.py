"""Benchmarks of crm-api (not tests): data generator, load driver, floors, and the runner."""
