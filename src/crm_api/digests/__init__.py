"""Report digests: daily or weekly emails with a user's numbers, overdue follow-ups and stale deals."""
