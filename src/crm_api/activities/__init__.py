"""Activities, follow-ups, timelines, reminders and calendar feeds."""
