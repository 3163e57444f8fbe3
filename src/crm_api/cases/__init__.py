"""Support cases with SLAs that escalate themselves."""
