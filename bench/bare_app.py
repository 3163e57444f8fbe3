"""The bare floor: FastAPI + asyncpg with no platform (no auth, no tenancy, no ETag, no unit of work).

It runs the platform's own queries for get-by-id and list pages (same columns, same
WHERE, same ORDER BY and LIMIT) on the owner connection, and answers JSON of the same shape, under
uvicorn with one worker like `crm-api serve`:

    python -m bench.bare_app --database-url postgresql://... --tenant-id ... --port 8001
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from bench.servers import database_from_url

COLUMNS = ("id, created_at, updated_at, version, first_name, last_name, email, phone, mobile, wechat, job_title, "
           "company_id, owner_id, source, lifecycle_stage, tags, custom_fields, address_street, address_city, "
           "address_region, address_postal_code, address_country")
GET = f"SELECT {COLUMNS} FROM contacts WHERE tenant_id = $1 AND deleted_at IS NULL AND id = $2"


def _str(value: Any) -> Any:
    return None if value is None else str(value)


def contact_json(row: asyncpg.Record) -> dict[str, Any]:
    """The same fields as the platform's ContactOut."""
    return {
        "id": str(row["id"]), "created_at": row["created_at"].isoformat(), "updated_at": row["updated_at"].isoformat(),
        "version": row["version"], "first_name": row["first_name"], "last_name": row["last_name"],
        "email": row["email"], "phone": row["phone"], "mobile": row["mobile"], "wechat": row["wechat"],
        "job_title": row["job_title"], "company_id": _str(row["company_id"]), "owner_id": _str(row["owner_id"]),
        "source": row["source"], "lifecycle_stage": row["lifecycle_stage"], "tags": list(row["tags"]),
        "address": {"street": row["address_street"], "city": row["address_city"], "region": row["address_region"],
                    "postal_code": row["address_postal_code"], "country": row["address_country"]},
        "custom_fields": json.loads(row["custom_fields"]) if row["custom_fields"] else {},
    }


def _cursor(values: list[Any]) -> str:
    raw = json.dumps(["-created_at", [{"t": values[0].isoformat()}, {"u": str(values[1])}]], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def create_app(dsn: dict[str, Any], tenant_id: uuid.UUID) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(**dsn, min_size=10, max_size=20)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/contacts/{contact_id}")
    async def get_contact(contact_id: uuid.UUID, request: Request) -> Response:
        row = await request.app.state.pool.fetchrow(GET, tenant_id, contact_id)
        if row is None:
            return JSONResponse({"detail": "not found"}, status_code=404)
        return JSONResponse(contact_json(row))

    @app.get("/v1/contacts")
    async def list_contacts(request: Request, limit: int = 50, country: str | None = None,
                            lifecycle_stage: str | None = None, tag: str | None = None) -> Response:
        where, args = ["tenant_id = $1", "deleted_at IS NULL"], [tenant_id]
        for column, value in (("address_country", country.upper() if country else None),
                              ("lifecycle_stage", lifecycle_stage)):
            if value is not None:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        if tag is not None:
            args.append([tag])
            where.append(f"tags @> ${len(args)}::varchar[]")
        keys = "created_at AS _k0, id AS _k1"
        order = "created_at DESC, id DESC"
        args.append(limit + 1)
        sql = f"SELECT {COLUMNS}, {keys} FROM contacts WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ${len(args)}"
        rows = await request.app.state.pool.fetch(sql, *args)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = _cursor([rows[-1]["_k0"], rows[-1]["_k1"]]) if more and rows else None
        return JSONResponse({"data": [contact_json(r) for r in rows], "next_cursor": next_cursor})

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--tenant-id", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    db = database_from_url(args.database_url)
    # As `crm-api serve` runs the platform: uvicorn.run, the same number of processes, no access log.
    if args.workers > 1:
        os.environ.update(BARE_DATABASE_URL=args.database_url, BARE_TENANT_ID=args.tenant_id)
        uvicorn.run("bench.bare_app:app_from_environment", factory=True, workers=args.workers, host=args.host,
                    port=args.port, log_level="warning", access_log=False)
        return
    uvicorn.run(create_app(_dsn(db), uuid.UUID(args.tenant_id)), host=args.host, port=args.port,
                log_level="warning", access_log=False)


def _dsn(db: Any) -> dict[str, Any]:
    return {"host": db.host, "port": db.port, "user": db.url.username or "postgres", "password": db.url.password,
            "database": db.url.database}


def app_from_environment() -> FastAPI:
    """The app of one process of `--workers N`."""
    return create_app(_dsn(database_from_url(os.environ["BARE_DATABASE_URL"])), uuid.UUID(os.environ["BARE_TENANT_ID"]))


if __name__ == "__main__":
    main()
