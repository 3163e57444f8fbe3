"""Users: the people of a tenant who own and work on records."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from crm_api.kit.errors import DuplicateRecord, ValidationFailed
from crm_api.kit.filtering import eq, ieq, timestamp_filters
from crm_api.kit.records import Records, RecordType
from crm_api.kit.uow import UnitOfWork
from crm_api.models.user import User
from crm_api.users.schemas import UserCreate, UserListParams, UserOut

KIND = RecordType(
    User, "user",
    filters={"role": eq(User.role), "email": ieq(User.email), **timestamp_filters(User)},
    sorts={"created_at": User.created_at, "updated_at": User.updated_at},
)


def represent(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


class UserService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.records: Records[User] = Records(uow, KIND, self._conflict)

    async def _conflict(self, constraint: str, user: Any) -> Exception | None:
        if constraint != "users_email_key":
            return None
        existing = (await self.uow.session.execute(
            select(User.id).where(User.tenant_id == self.records.tenant_id,
                                  func.lower(User.email) == user.email.lower(), User.deleted_at.is_(None))
        )).scalar_one_or_none()
        return DuplicateRecord(f"A user with email {user.email} exists", existing_id=existing)

    async def list(self, params: UserListParams, query: Any) -> tuple[list[UserOut], str | None]:
        rows, cursor = await self.records.list(params)
        return [represent(r) for r in rows], cursor

    async def get(self, user_id: uuid.UUID) -> UserOut:
        return represent(await self.records.get(user_id))

    async def create(self, body: UserCreate) -> UserOut:
        return await self.records.create(User(**body.model_dump()), represent)

    async def update(self, user_id: uuid.UUID, body: Any, expected: int | None) -> UserOut:
        user = await self.records.get(user_id, for_update=True)
        changes = body.model_dump(exclude_unset=True)
        for name in ("email", "name", "role"):
            if name in changes and changes[name] is None:
                raise ValidationFailed.field(name, "cannot be null")
        return await self.records.update(user, changes, expected, represent)

    async def delete(self, user_id: uuid.UUID, expected: int | None) -> None:
        user = await self.records.get(user_id, for_update=True)
        await self.records.trash(user, expected, represent)

    async def restore(self, user_id: uuid.UUID) -> UserOut:
        return await self.records.restore(user_id, represent)

    async def require(self, field: str, user_id: uuid.UUID | None) -> None:
        """422 when `user_id` is given and names no user of the tenant."""
        await self.records.require_reference(field, user_id)
