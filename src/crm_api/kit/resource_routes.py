"""The standard routes of a record resource: list, create, get, update, delete, restore.

Every resource gets the same contract (API.md) from one place; a domain adds its own routes
beside these on the same router.
"""

import uuid
from functools import cache
from typing import Annotated, Any, Protocol

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, create_model

from crm_api.auth.principal import Principal, require
from crm_api.kit import reads
from crm_api.kit.concurrency import etag, expected_version
from crm_api.kit.pagination import Page
from crm_api.kit.routing import CrmRouter, get_uow
from crm_api.kit.uow import UnitOfWork


class RecordService(Protocol):
    async def list(self, params: Any, query: Any) -> tuple[list[Any], str | None]: ...
    async def get(self, record_id: uuid.UUID) -> Any: ...
    async def create(self, body: Any) -> Any: ...
    async def update(self, record_id: uuid.UUID, body: Any, expected: int | None) -> Any: ...
    async def delete(self, record_id: uuid.UUID, expected: int | None) -> None: ...
    async def restore(self, record_id: uuid.UUID) -> Any: ...


@cache
def page_model(out: type[BaseModel]) -> type[BaseModel]:
    """A named page model (`ContactPage`) so generated SDKs read well."""
    name = out.__name__.removesuffix("Out") + "Page"
    return create_model(name, __base__=Page[out])  # type: ignore[valid-type]


def add_record_routes(router: CrmRouter, *, resource: str, label: str, service: Any, create: type[BaseModel],
                      update: type[BaseModel], out: type[BaseModel], params: type[BaseModel],
                      scopes: tuple[str, str] | None = None, created: type[BaseModel] | None = None,
                      admin_too: bool = False) -> None:
    """Add the six standard routes of `resource` (plural, kebab-case path) to `router`.

    `scopes` (read, write) default to `<resource>:read` and `<resource>:write` (`admin_too`: or
    `admin`); `created` is the create response when it shows more than `out` (a secret, once).
    """
    name = resource.replace("-", "_")
    read_scope, write_scope = scopes or (f"{name}:read", f"{name}:write")
    extra = ("admin",) if admin_too else ()
    read, write = require(read_scope, *extra), require(write_scope, *extra)
    page = page_model(out)
    Uow = Annotated[UnitOfWork, Depends(get_uow)]
    Reader = Annotated[Principal, Depends(read)]
    Writer = Annotated[Principal, Depends(write)]
    # GET of one record and lists take the read path (kit/reads.py) where the service allows it. It
    # authenticates itself, so the bearer scheme is named for the OpenAPI document.
    read_scopes = (read_scope, *extra)
    kind: Any = getattr(service, "kind", None)
    read_path = kind is not None and service.on_read_path()
    bearer_doc = {"security": [{"HTTPBearer": []}]} if read_path else None

    def location(record: Any) -> str:
        return f"/v1/{resource}/{record.id}"

    async def list_records(request: Request, query: Annotated[params, Query()], uow: Uow,  # type: ignore[valid-type]
                           principal: Reader) -> Any:
        data, next_cursor = await service(uow).list(query, request.query_params)
        # The items are the service's output models already: no validation again.
        return reads.json_response(page.model_construct(data=data, next_cursor=next_cursor))

    async def read_list(request: Request, query: Annotated[params, Query()]) -> Response:  # type: ignore[valid-type]
        async with request.app.state.reads.unit(request, read_scopes) as unit:
            data, next_cursor = await service(unit).list(query, request.query_params)
        return reads.json_response(page.model_construct(data=data, next_cursor=next_cursor))

    async def create_record(body: create, response: Response, uow: Uow, principal: Writer) -> Any:  # type: ignore[valid-type]
        record = await service(uow).create(body)
        response.headers["Location"] = location(record)
        response.headers["ETag"] = etag(record.version)
        return record

    async def get_record(record_id: uuid.UUID, response: Response, uow: Uow, principal: Reader) -> Any:
        record = await service(uow).get(record_id)
        response.headers["ETag"] = etag(record.version)
        return record

    async def read_record(record_id: uuid.UUID, request: Request) -> Response:
        return await reads.get_response(request, read_scopes, kind.model, kind.object_type, record_id, service.view)

    async def update_record(record_id: uuid.UUID, body: update, request: Request, response: Response,  # type: ignore[valid-type]
                            uow: Uow, principal: Writer) -> Any:
        record = await service(uow).update(record_id, body, expected_version(request))
        response.headers["ETag"] = etag(record.version)
        return record

    async def delete_record(record_id: uuid.UUID, request: Request, uow: Uow, principal: Writer) -> Response:
        await service(uow).delete(record_id, expected_version(request))
        return Response(status_code=204)

    async def restore_record(record_id: uuid.UUID, response: Response, uow: Uow, principal: Writer) -> Any:
        record = await service(uow).restore(record_id)
        response.headers["ETag"] = etag(record.version)
        return record

    router.add_api_route(f"/{resource}", read_list if read_path else list_records, methods=["GET"], name=f"{name}_list",
                         response_model=page, summary=f"List {label}s",
                         openapi_extra=bearer_doc)
    router.add_api_route(f"/{resource}", create_record, methods=["POST"], name=f"{name}_create",
                         response_model=created or out, status_code=201, summary=f"Create a {label}")
    router.add_api_route(f"/{resource}/{{record_id}}", read_record if read_path else get_record, methods=["GET"],
                         name=f"{name}_get", response_model=out, summary=f"Get a {label}",
                         openapi_extra=bearer_doc)
    router.add_api_route(f"/{resource}/{{record_id}}", update_record, methods=["PATCH"], name=f"{name}_update",
                         response_model=out, summary=f"Update a {label}")
    router.add_api_route(f"/{resource}/{{record_id}}", delete_record, methods=["DELETE"], name=f"{name}_delete",
                         status_code=204, response_class=Response, summary=f"Move a {label} to the trash")
    router.add_api_route(f"/{resource}/{{record_id}}/restore", restore_record, methods=["POST"],
                         name=f"{name}_restore", response_model=out, summary=f"Restore a {label} from the trash")
