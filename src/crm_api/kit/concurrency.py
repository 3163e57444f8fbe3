"""ETag / version / If-Match."""

from fastapi import Request

from crm_api.kit.errors import PreconditionFailed, ValidationFailed


def etag(version: int) -> str:
    """The strong ETag of a record version."""
    return f'"{version}"'


def expected_version(request: Request) -> int | None:
    """The version an If-Match header asks for; None when absent or `*`."""
    raw = request.headers.get("if-match")
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip()
    weak = value.startswith("W/")
    value = value.removeprefix("W/").strip('"')
    if not value.isdigit():
        raise ValidationFailed.field("If-Match", 'must be an ETag such as "3"')
    if weak:  # If-Match compares strongly (RFC 9110 13.1.1): a weak tag never matches
        raise PreconditionFailed('If-Match needs a strong ETag such as "3", not a weak one')
    return int(value)


def check_version(expected: int | None, current: int) -> None:
    """412 when the client's version is stale."""
    if expected is not None and expected != current:
        raise PreconditionFailed(f"The record is at version {current}, not {expected}",
                                 current_version=current)
