"""The route class every endpoint uses: one unit of work per request, committed before the
response leaves, plus the checks every route shares (unknown query parameters, idempotency)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from crm_api.kit import idempotency
from crm_api.kit.errors import ValidationFailed
from crm_api.kit.filtering import CUSTOM_FIELD_PREFIX, ListParams
from crm_api.kit.uow import UnitOfWork

PROBLEM = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


async def get_uow(request: Request) -> UnitOfWork:
    """The request's unit of work, opened on first use; CrmRoute commits or rolls it back.

    A coroutine although it never awaits: FastAPI runs a plain `def` dependency in a worker thread,
    a thread hop (and GIL hand-over) on every request."""
    uow: UnitOfWork | None = getattr(request.state, "uow", None)
    if uow is None:
        state = request.app.state
        uow = UnitOfWork(state.sessionmaker, getattr(state, "arq", None), getattr(request.state, "request_id", None),
                         state.settings)
        request.state.uow = uow
    return uow


def _query_fields(dependant: Any) -> list[Any]:
    fields = list(dependant.query_params)
    for sub in dependant.dependencies:
        fields.extend(_query_fields(sub))
    return fields


def _query_names(route: APIRoute) -> tuple[set[str], bool]:
    """The query parameter names a route declares, and whether it takes custom field filters."""
    names: set[str] = set()
    custom_fields = False
    for field in _query_fields(route.dependant):
        annotation = field.field_info.annotation
        if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
            names.update(f.alias or n for n, f in annotation.model_fields.items())
            if issubclass(annotation, ListParams) and annotation.accepts_custom_field_filters:
                custom_fields = True
        else:
            names.add(field.alias)
    return names, custom_fields


class CrmRoute(APIRoute):
    """Commits the request's unit of work when the endpoint succeeds, before the response is sent."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        responses = dict(kwargs.pop("responses", None) or {})
        public = (kwargs.get("openapi_extra") or {}).get("security") == []
        for status in _error_statuses(path, kwargs.get("methods") or [], public):
            responses.setdefault(status, {"description": _DESCRIPTIONS[status], **PROBLEM})
        super().__init__(path, endpoint, responses=responses, **kwargs)

    def query_info(self) -> tuple[set[str], bool]:
        """Declared query parameter names (computed once the dependant exists)."""
        info = self.__dict__.get("_query_info")
        if info is None:
            info = self.__dict__["_query_info"] = _query_names(self)
        return info

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()
        route = self

        async def run(request: Request) -> Response:
            query_names, custom_fields = route.query_info()
            for name in request.query_params:
                if name not in query_names and not (custom_fields and name.startswith(CUSTOM_FIELD_PREFIX)):
                    raise ValidationFailed.field(name, "is not a parameter of this endpoint")
            try:
                response = await handler(request)
            except BaseException:
                await _finish(request, commit=False)
                raise
            if response.status_code < 400:
                uow: UnitOfWork | None = getattr(request.state, "uow", None)
                if uow is not None:
                    ttl = request.app.state.settings.idempotency_ttl_seconds
                    await idempotency.remember(request, uow, response, ttl)
            await _finish(request, commit=response.status_code < 400)
            return response

        return run


async def _finish(request: Request, *, commit: bool) -> None:
    uow: UnitOfWork | None = getattr(request.state, "uow", None)
    if uow is None:
        return
    request.state.uow = None
    try:
        if commit:
            await uow.commit()
        else:
            await uow.rollback()
    finally:
        await uow.close()


_DESCRIPTIONS = {
    401: "Missing or invalid credentials", 403: "The credentials lack the scope", 404: "No such record",
    409: "Conflict (duplicate, or the same Idempotency-Key in flight)", 412: "If-Match is stale",
    413: "Body too large", 422: "Validation failed",
}


def _error_statuses(path: str, methods: Any, public: bool = False) -> list[int]:
    statuses = [422] if public else [401, 403, 422]
    if "{" in path:
        statuses.append(404)
    if "POST" in methods:
        statuses += [409, 413]
    if "PATCH" in methods or "PUT" in methods:
        statuses += [409, 412, 413]
    if "DELETE" in methods:
        statuses.append(412)
    return sorted(set(statuses))


class CrmRouter(APIRouter):
    """An APIRouter whose routes are CrmRoutes."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("route_class", CrmRoute)
        super().__init__(**kwargs)
