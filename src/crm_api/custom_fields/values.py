"""Validate, merge and filter record values against a tenant's custom field definitions."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from email_validator import EmailNotValidError, validate_email

from crm_api.kit.errors import ValidationFailed
from crm_api.kit.record_values import has_value
from crm_api.models.custom_field import CustomField

_PHONE = re.compile(r"^[0-9+()./ \-]{3,64}$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def _text(value: Any, _: CustomField) -> Any:
    if not isinstance(value, str) or len(value) > 10_000:
        raise ValueError("must be a string of at most 10000 characters")
    return value


def _number(value: Any, _: CustomField) -> Any:
    # JSON input can hold 1e400 (inf) or NaN, which JSONB cannot store.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not math.isfinite(value)):
        raise ValueError("must be a number")
    return value


def _boolean(value: Any, _: CustomField) -> Any:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _date(value: Any, _: CustomField) -> Any:
    try:
        return date.fromisoformat(value).isoformat() if isinstance(value, str) and len(value) == 10 else _bad()
    except ValueError:
        raise ValueError("must be a date, YYYY-MM-DD") from None


def _datetime(value: Any, _: CustomField) -> Any:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else _bad()
    except ValueError:
        raise ValueError("must be an RFC 3339 timestamp with a time zone") from None
    if parsed.tzinfo is None:
        raise ValueError("must be an RFC 3339 timestamp with a time zone")
    return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _select(value: Any, field: CustomField) -> Any:
    if not isinstance(value, str) or value not in (field.options or []):
        raise ValueError(f"must be one of {', '.join(field.options or [])}")
    return value


def _multiselect(value: Any, field: CustomField) -> Any:
    if not isinstance(value, list) or any(v not in (field.options or []) for v in value):
        raise ValueError(f"must be a list of values from {', '.join(field.options or [])}")
    return list(dict.fromkeys(value))


def _email(value: Any, _: CustomField) -> Any:
    try:
        return validate_email(value, check_deliverability=False).normalized if isinstance(value, str) else _bad()
    except EmailNotValidError:
        raise ValueError("must be an email address") from None


def _url(value: Any, _: CustomField) -> Any:
    if not isinstance(value, str) or len(value) > 2048 or not _URL.match(value):
        raise ValueError("must be an http or https URL")
    return value


def _phone(value: Any, _: CustomField) -> Any:
    if not isinstance(value, str) or not _PHONE.match(value):
        raise ValueError("must be a phone number")
    return value


def _bad() -> Any:
    raise ValueError("invalid")


_VALIDATORS = {"text": _text, "number": _number, "boolean": _boolean, "date": _date, "datetime": _datetime,
               "select": _select, "multiselect": _multiselect, "email": _email, "url": _url, "phone": _phone}


def merge(definitions: Mapping[str, CustomField], current: Mapping[str, Any],
          given: Mapping[str, Any]) -> dict[str, Any]:
    """`current` with `given` applied (null clears a key), validated; 422 lists every bad key."""
    errors: list[dict[str, str]] = []
    merged = dict(current)
    for key, value in given.items():
        field = definitions.get(key)
        if field is None:
            errors.append({"field": f"custom_fields.{key}", "message": "is not a custom field of this record type"})
            continue
        if value is None:
            merged.pop(key, None)
            continue
        try:
            merged[key] = _VALIDATORS[field.type](value, field)
        except ValueError as exc:
            errors.append({"field": f"custom_fields.{key}", "message": str(exc)})
    for key, field in definitions.items():
        if field.required and merged.get(key) is None:
            errors.append({"field": f"custom_fields.{key}", "message": "is required"})
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    return merged


def _parse_filter(field: CustomField, raw: str) -> Any:
    if field.type == "number":
        try:
            number = Decimal(raw)
        except InvalidOperation:
            raise ValueError("must be a number") from None
        # NaN and infinities are no JSON numbers; a huge exponent would make int() run for ages.
        if not number.is_finite() or number.adjusted() > 308:
            raise ValueError("must be a number")
        return int(number) if number == number.to_integral_value() else float(number)
    if field.type == "boolean":
        if raw not in ("true", "false"):
            raise ValueError("must be true or false")
        return raw == "true"
    if field.type == "multiselect":
        return [_select(raw, field)]
    return _VALIDATORS[field.type](raw, field)


def filter_conditions(definitions: Mapping[str, CustomField], model: Any, object_type: str,
                      params: Mapping[str, str]) -> list[Any]:
    """Conditions for `custom_fields.<key>=value` filters: equality on `record_values` (index-usable under RLS)."""
    conditions = []
    for key, raw in params.items():
        field = definitions.get(key)
        if field is None:
            raise ValidationFailed.field(f"custom_fields.{key}", "is not a custom field of this record type")
        try:
            value = _parse_filter(field, raw)
        except ValueError as exc:
            raise ValidationFailed.field(f"custom_fields.{key}", str(exc)) from None
        # A multiselect matches when the value is one of its elements.
        conditions.append(has_value(model, object_type, key, value[0] if isinstance(value, list) else value))
    return conditions
