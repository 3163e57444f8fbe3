"""Users: the people of a tenant who own and work on records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from crm_api.kit.errors import DuplicateRecord
from crm_api.kit.filtering import eq, ieq, timestamp_filters
from crm_api.kit.record_service import RecordService
from crm_api.kit.records import RecordType
from crm_api.models.user import User
from crm_api.users.schemas import UserOut

KIND = RecordType(
    User, "user",
    filters={"role": eq(User.role), "email": ieq(User.email), **timestamp_filters(User)},
    sorts={"created_at": User.created_at, "updated_at": User.updated_at},
)


def represent(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


class UserService(RecordService[User, UserOut]):
    kind = KIND
    not_null = ("email", "name", "role")

    view = staticmethod(represent)

    async def conflict(self, constraint: str, user: Any) -> Exception | None:
        if constraint != "users_email_key":
            return None
        existing = (await self.uow.session.execute(
            select(User.id).where(User.tenant_id == self.records.tenant_id,
                                  func.lower(User.email) == user.email.lower(), User.deleted_at.is_(None))
        )).scalar_one_or_none()
        return DuplicateRecord(f"A user with email {user.email} exists", existing_id=existing)
