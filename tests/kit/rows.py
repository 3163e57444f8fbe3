"""Reading what the app wrote, through the owner's connection (which row-level security does not hide)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


async def count_rows(owner_engine: AsyncEngine, table: str, tenant_id: uuid.UUID, where: str = "",
                     **params: Any) -> int:
    """Rows of one tenant in `table` (trashed ones included), optionally narrowed by `where`."""
    sql = f"SELECT count(*) FROM {table} WHERE tenant_id = :tenant_id" + (f" AND {where}" if where else "")
    async with owner_engine.connect() as conn:
        return int((await conn.execute(text(sql), {"tenant_id": tenant_id, **params})).scalar_one())


async def events_of(owner_engine: AsyncEngine, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every event of a tenant, in sequence order."""
    async with owner_engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT sequence, id, type, object_type, object_id, data, previous, actor, request_id, created_at "
            "FROM events WHERE tenant_id = :t ORDER BY sequence"), {"t": tenant_id})
        return [dict(r._mapping) for r in rows]


async def execute(owner_engine: AsyncEngine, sql: str, **params: Any) -> None:
    """Run one statement as the owner and commit it."""
    async with owner_engine.begin() as conn:
        await conn.execute(text(sql), params)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with `status`; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert PROBLEM_KEYS <= body.keys(), body
    assert body["status"] == status
    assert body["type"].startswith("urn:crm-api:problem:")
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["instance"] == response.request.url.path
    return body


def error_fields(response: Any) -> set[str]:
    """The `field` of every entry in a 422 problem's `errors`."""
    return {e["field"] for e in response.json().get("errors", [])}


def api_routes(app: Any) -> list[Any]:
    """Every API route of the app with its full path, endpoint and methods (FastAPI keeps included
    routers as routers of their own: their routes are listed through their effective contexts)."""
    from fastapi.routing import APIRoute

    routes: list[Any] = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            routes.append(route)
        elif hasattr(route, "effective_route_contexts"):
            routes.extend(route.effective_route_contexts())
    return routes
