"""Who is calling: resolved from the bearer token in the request's own transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import text

from crm_api.auth import scopes as scope_rules
from crm_api.auth.keys import PREFIX, key_hash
from crm_api.kit import idempotency
from crm_api.kit.errors import Forbidden, Unauthorized
from crm_api.kit.events import Actor
from crm_api.kit.routing import get_uow
from crm_api.kit.uow import UnitOfWork

bearer = HTTPBearer(auto_error=False, description="An API key (`crm_...`)")

# One round trip: find the key and its user's role, and set the tenant for row-level security.
_AUTHENTICATE = text("""
    SELECT a.api_key_id, a.tenant_id, a.user_id, a.scopes, a.role,
           set_config('app.tenant_id', a.tenant_id::text, true) AS tenant_set
    FROM crm_authenticate(:hash) a
""")


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


async def authenticate(request: Request, uow: UnitOfWork,
                       credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """The request's principal (cached on the request); 401 when the token is missing or invalid."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    if credentials is None or not credentials.credentials.startswith(PREFIX):
        raise Unauthorized("Send `Authorization: Bearer <api key>`")
    row = (await uow.session.execute(_AUTHENTICATE, {"hash": key_hash(credentials.credentials)})).first()
    if row is None or (row.user_id is not None and row.role is None):
        raise Unauthorized("The API key is invalid, revoked or expired")
    granted = scope_rules.effective(list(row.scopes), row.role)
    principal = Principal(row.tenant_id, row.user_id, row.api_key_id, granted)
    uow.bind(principal.tenant_id, principal.actor)
    request.state.principal = principal
    return principal


def require(scope: str, *alternatives: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency: the authenticated principal, 403 unless it holds `scope` (or an alternative)."""
    accepted = (scope, *alternatives)

    async def dependency(request: Request, uow: UnitOfWork = Depends(get_uow),
                         credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
        principal = await authenticate(request, uow, credentials)
        if not any(principal.allows(s) for s in accepted):
            raise Forbidden(f"This endpoint needs the `{'` or `'.join(accepted)}` scope")
        # After the scope check: only a caller allowed to make the request may see its stored response.
        if not getattr(request.state, "idempotency_checked", False):
            request.state.idempotency_checked = True
            await idempotency.guard(request, uow)
        return principal

    dependency.__name__ = "require_" + "_or_".join(s.replace(":", "_").replace("*", "all") for s in accepted)
    return dependency
