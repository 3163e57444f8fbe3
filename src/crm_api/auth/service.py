"""API keys: create, list, revoke."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from crm_api.auth.keys import display_prefix, key_hash, new_key
from crm_api.auth.principal import Principal
from crm_api.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyListParams, ApiKeyOut
from crm_api.auth.scopes import ALL, validate_scopes
from crm_api.kit.clock import utcnow
from crm_api.kit.errors import Forbidden, NotFound, ValidationFailed
from crm_api.kit.filtering import resolve_sort
from crm_api.kit.ids import uuid7
from crm_api.kit.pagination import paginate
from crm_api.kit.uow import UnitOfWork
from crm_api.models.api_key import ApiKey
from crm_api.users.service import UserService


def represent(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut.model_validate(key, from_attributes=True)


class ApiKeyService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        assert uow.tenant_id is not None
        self.tenant_id = uow.tenant_id

    async def create(self, body: ApiKeyCreate, principal: Principal) -> ApiKeyCreated:
        scopes = validate_scopes(body.scopes)
        if ALL not in principal.scopes and not set(scopes) <= principal.scopes:
            raise Forbidden("A key cannot be given scopes its creator lacks")
        if body.expires_at is not None and body.expires_at <= utcnow():
            raise ValidationFailed.field("expires_at", "must be in the future")
        await UserService(self.uow).require("user_id", body.user_id)
        secret = new_key()
        key = ApiKey(tenant_id=self.tenant_id, id=uuid7(), name=body.name, prefix=display_prefix(secret),
                     key_hash=key_hash(secret), scopes=scopes, user_id=body.user_id, created_at=utcnow(),
                     expires_at=body.expires_at)
        self.uow.session.add(key)
        await self.uow.session.flush()
        out = represent(key)
        self.uow.outbox.add("api_key.created", "api_key", key.id, out.model_dump(mode="json"))
        return ApiKeyCreated(**out.model_dump(), api_key=secret)

    async def list(self, params: ApiKeyListParams) -> tuple[list[ApiKeyOut], str | None]:
        stmt = select(ApiKey).where(ApiKey.tenant_id == self.tenant_id)
        if not params.include_revoked:
            stmt = stmt.where(ApiKey.revoked_at.is_(None))
        sort = resolve_sort(params.sort, {"created_at": ApiKey.created_at})
        rows, cursor = await paginate(self.uow.session, stmt, sort, ApiKey.id, params.limit, params.cursor)
        return [represent(k) for k in rows], cursor

    async def _get(self, key_id: uuid.UUID) -> ApiKey:
        stmt = select(ApiKey).where(ApiKey.tenant_id == self.tenant_id, ApiKey.id == key_id).with_for_update()
        key = (await self.uow.session.execute(stmt)).scalar_one_or_none()
        if key is None:
            raise NotFound(f"No API key {key_id}")
        return key

    async def get(self, key_id: uuid.UUID) -> ApiKeyOut:
        return represent(await self._get(key_id))

    async def revoke(self, key_id: uuid.UUID) -> None:
        """Revoke a key at once; revoking it again changes nothing."""
        key = await self._get(key_id)
        if key.revoked_at is not None:
            return
        key.revoked_at = utcnow()
        await self.uow.session.flush()
        self.uow.outbox.add("api_key.revoked", "api_key", key.id, represent(key).model_dump(mode="json"))
