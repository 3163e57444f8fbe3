"""Campaigns: email, events, advertising and other marketing efforts, with their cost."""
