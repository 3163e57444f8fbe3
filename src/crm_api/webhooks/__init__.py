"""Webhook endpoints and the delivery of every event to them, signed per Standard Webhooks."""
