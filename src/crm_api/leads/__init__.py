"""Leads: every prospect from every channel, captured, qualified and converted."""
