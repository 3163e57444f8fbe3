"""Contacts: the people a tenant has relationships with."""
