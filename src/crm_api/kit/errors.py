"""Typed domain errors and their one rendering: RFC 9457 application/problem+json."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_TITLES = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 409: "Conflict", 412: "Precondition failed", 413: "Payload too large",
    415: "Unsupported media type", 422: "Validation failed", 428: "Precondition required",
    429: "Too many requests", 500: "Internal server error",
}
_SLUGS = {
    400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
    409: "conflict", 412: "precondition-failed", 413: "payload-too-large", 415: "unsupported-media-type",
    422: "validation-failed", 429: "rate-limited", 500: "internal-error",
}


def problem_type(slug: str) -> str:
    """The problem `type` URI for a slug."""
    return f"urn:crm-api:problem:{slug}"


class CrmError(Exception):
    """A domain error that knows its HTTP status and problem type."""

    status = 500
    slug = "internal-error"

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, str]] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail or _TITLES.get(self.status, "Error"))
        self.detail = detail
        self.errors = errors
        self.extra = extra


class Unauthorized(CrmError):
    status, slug = 401, "unauthorized"


class Forbidden(CrmError):
    status, slug = 403, "forbidden"


class NotFound(CrmError):
    status, slug = 404, "not-found"


class Conflict(CrmError):
    status, slug = 409, "conflict"


class DuplicateRecord(Conflict):
    """A unique field already in use; `existing_id` names the record that holds it."""

    slug = "duplicate"


class IdempotencyInFlight(Conflict):
    slug = "idempotency-in-flight"


class PreconditionFailed(CrmError):
    status, slug = 412, "precondition-failed"


class ValidationFailed(CrmError):
    """422 with `errors: [{field, message}]`."""

    status, slug = 422, "validation-failed"

    @classmethod
    def field(cls, field: str, message: str) -> ValidationFailed:
        """A validation error on one field."""
        return cls(f"{field}: {message}", errors=[{"field": field, "message": message}])


def problem_response(request: Request, status: int, *, slug: str | None = None, detail: str | None = None,
                     errors: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None,
                     **extra: Any) -> JSONResponse:
    """Render one problem+json response."""
    body: dict[str, Any] = {
        "type": problem_type(slug or _SLUGS.get(status, "error")),
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail or _TITLES.get(status, "Error"),
        "instance": request.url.path,
    }
    if errors is not None:
        body["errors"] = errors
    body.update({k: (str(v) if not isinstance(v, (int, float, bool, list, dict)) else v)
                 for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    return [{"field": _field_name(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")}
            for e in exc.errors()]


def install_error_handlers(app: FastAPI) -> None:
    """Register the problem+json rendering for every error the app can raise."""

    @app.exception_handler(CrmError)
    async def _crm(request: Request, exc: CrmError) -> Response:
        return problem_response(request, exc.status, slug=exc.slug, detail=exc.detail, errors=exc.errors,
                                **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = _validation_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(request, 422, detail=detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(request, exc.status_code, detail=detail, headers=exc.headers)

    async def _database(request: Request, exc: Exception) -> Response:
        # PostgreSQL text cannot hold NUL (U+0000): that is the client's input, not a server fault.
        # Through SQLAlchemy the driver's error is `exc.orig`; on the read path it is asyncpg's own.
        if getattr(getattr(exc, "orig", exc), "sqlstate", None) in ("22021", "22P05"):
            return problem_response(request, 422, detail="Text must not contain the NUL character (U+0000)",
                                    errors=[{"field": "request", "message": "must not contain U+0000"}])
        raise exc

    app.add_exception_handler(DBAPIError, _database)
    app.add_exception_handler(asyncpg.PostgresError, _database)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> Response:
        request_id = getattr(request.state, "request_id", None)
        log.exception("unhandled error", extra={"request_id": request_id})
        # Rendered by Starlette's outermost middleware, so the request id header is set here.
        return problem_response(request, 500, detail=f"Internal error; request id {request_id}",
                                request_id=request_id,
                                headers={"X-Request-Id": request_id} if request_id else None)
