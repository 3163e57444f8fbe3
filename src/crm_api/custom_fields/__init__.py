"""Custom field definitions and the validation of record values against them."""
