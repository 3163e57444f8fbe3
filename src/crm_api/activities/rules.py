"""Which fields each activity type takes and needs."""

from __future__ import annotations

from typing import Any

from crm_api.kit.errors import ValidationFailed

COMMON = {"subject", "body", "owner_id", "assignee_id", "contact_ids", "company_id", "deal_id", "lead_id",
          "case_id", "custom_fields", "remind_at"}
FIELDS: dict[str, set[str]] = {
    "call": {"direction", "occurred_at", "duration_seconds", "outcome"},
    "email": {"direction", "occurred_at", "email_from", "email_to", "message_id"},
    "meeting": {"starts_at", "ends_at", "location", "attendees"},
    "task": {"due_at", "priority", "done", "completed_at"},
    "note": set(),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "call": ("direction", "occurred_at"),
    "email": ("direction", "occurred_at"),
    "meeting": ("starts_at", "ends_at"),
    "task": (),
    "note": ("body",),
}
# Values that mean "not given" for fields with defaults.
EMPTY: dict[str, Any] = {"contact_ids": [], "email_to": [], "attendees": [], "custom_fields": {}, "done": False}


def check(kind: str, values: dict[str, Any]) -> None:
    """422 listing every field that does not belong to `kind` or that `kind` needs."""
    errors = []
    allowed = COMMON | FIELDS[kind]
    for name, value in values.items():
        if name not in allowed and value not in (None, EMPTY.get(name, None)):
            errors.append({"field": name, "message": f"is not a field of a {kind}"})
    for name in REQUIRED[kind]:
        if values.get(name) in (None, ""):
            errors.append({"field": name, "message": f"is required for a {kind}"})
    if kind == "meeting" and values.get("starts_at") and values.get("ends_at") \
            and values["ends_at"] <= values["starts_at"]:
        errors.append({"field": "ends_at", "message": "must be after starts_at"})
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
