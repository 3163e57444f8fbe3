"""Scopes: `<resource>:read`, `<resource>:write`, `admin`, and `*`."""

from crm_api.kit.errors import ValidationFailed

RESOURCES = ("contacts", "companies", "custom_fields", "events", "webhooks", "cases", "sla_policies",
             "pipelines", "lost_reasons", "deals", "leads", "activities",
             "campaigns", "kpis")
ADMIN = "admin"
ALL = "*"
KNOWN = frozenset({ALL, ADMIN} | {f"{r}:{a}" for r in RESOURCES for a in ("read", "write")})

# The most a user of each role may be granted; an API key acting for a user gets the intersection.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset({ALL}),
    "manager": frozenset(KNOWN - {ALL, ADMIN}),
    # Members work deals and leads; how pipelines are laid out is for managers and admins.
    "member": frozenset(KNOWN - {ALL, ADMIN, "custom_fields:write", "webhooks:write", "sla_policies:write",
                                 "pipelines:write", "lost_reasons:write"}),
}


def validate_scopes(scopes: list[str]) -> list[str]:
    """The scopes, deduplicated, or 422 naming an unknown one."""
    for scope in scopes:
        if scope not in KNOWN:
            raise ValidationFailed.field("scopes", f"unknown scope {scope!r}")
    return sorted(set(scopes))


def allows(granted: frozenset[str], scope: str) -> bool:
    """Whether a set of granted scopes includes `scope`."""
    return ALL in granted or scope in granted


def effective(key_scopes: list[str], role: str | None) -> frozenset[str]:
    """A key's scopes, capped by its user's role when it acts for a user."""
    granted = frozenset(key_scopes)
    if role is None:
        return granted
    ceiling = ROLE_SCOPES.get(role, frozenset())
    if ALL in ceiling:
        return granted
    if ALL in granted:
        return ceiling
    return granted & ceiling
