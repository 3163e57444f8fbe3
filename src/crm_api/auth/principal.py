"""Who is calling: resolved from the bearer token in the request's own transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import text

from crm_api.auth import scopes as scope_rules
from crm_api.auth.keys import PREFIX, key_hash
from crm_api.kit import idempotency
from crm_api.kit.errors import Forbidden, Unauthorized
from crm_api.kit.events import Actor
from crm_api.kit.routing import get_uow
from crm_api.kit.uow import UnitOfWork

bearer = HTTPBearer(auto_error=False, description="An API key (`crm_...`)")

# One round trip: find the key and its user's role, and set the tenant for row-level security, for
# the transaction (`local` true: the unit of work) or for the connection's session (the read path).
AUTHENTICATE_SQL = """
    SELECT a.api_key_id, a.tenant_id, a.user_id, a.scopes, a.role,
           set_config('app.tenant_id', a.tenant_id::text, {local}) AS tenant_set
    FROM crm_authenticate({hash}) a
"""
_AUTHENTICATE = text(AUTHENTICATE_SQL.format(local="true", hash=":hash"))


@dataclass(frozen=True)
class Principal:
    """A tenant, an optional user, and what they may do."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID | None
    api_key_id: uuid.UUID | None
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope_rules.allows(self.scopes, scope)

    @property
    def actor(self) -> Actor:
        if self.user_id is not None:
            return Actor("user", str(self.user_id))
        return Actor("api_key", str(self.api_key_id))


def token_hash(authorization: str | None) -> bytes:
    """The lookup hash of the API key in an `Authorization` header; 401 without a bearer API key."""
    scheme, token = get_authorization_scheme_param(authorization)
    if scheme.lower() != "bearer" or not token.startswith(PREFIX):
        raise Unauthorized("Send `Authorization: Bearer <api key>`")
    return key_hash(token)


def authenticated_principal(row: Mapping[Any, Any] | None) -> Principal:
    """The principal of a `crm_authenticate()` row; 401 when there is none (unknown, revoked or
    expired key) or the key's user is gone."""
    if row is None or (row["user_id"] is not None and row["role"] is None):
        raise Unauthorized("The API key is invalid, revoked or expired")
    return Principal(row["tenant_id"], row["user_id"], row["api_key_id"],
                     scope_rules.effective(list(row["scopes"]), row["role"]))


def require_scope(principal: Principal, accepted: Sequence[str]) -> None:
    """403 unless the principal holds one of the `accepted` scopes."""
    if not any(principal.allows(s) for s in accepted):
        raise Forbidden(f"This endpoint needs the `{'` or `'.join(accepted)}` scope")


async def authenticate(request: Request, uow: UnitOfWork,
                       credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """The request's principal (cached on the request); 401 when the token is missing or invalid."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    hashed = token_hash(f"{credentials.scheme} {credentials.credentials}" if credentials else None)
    principal = authenticated_principal((await uow.session.execute(_AUTHENTICATE, {"hash": hashed})).mappings().first())
    uow.bind(principal.tenant_id, principal.actor)
    request.state.principal = principal
    return principal


def require(scope: str, *alternatives: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency: the authenticated principal, 403 unless it holds `scope` (or an alternative)."""
    accepted = (scope, *alternatives)

    async def dependency(request: Request, uow: UnitOfWork = Depends(get_uow),
                         credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
        principal = await authenticate(request, uow, credentials)
        require_scope(principal, accepted)
        # After the scope check: only a caller allowed to make the request may see its stored response.
        if not getattr(request.state, "idempotency_checked", False):
            request.state.idempotency_checked = True
            await idempotency.guard(request, uow)
        return principal

    dependency.__name__ = "require_" + "_or_".join(s.replace(":", "_").replace("*", "all") for s in accepted)
    return dependency
