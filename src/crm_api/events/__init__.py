"""The events feed: every committed change of a tenant, in sequence order."""
