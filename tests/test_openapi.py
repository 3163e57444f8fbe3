"""openapi/openapi.json is the contract: it must match the code, and read well for generated SDKs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from crm_api.app import create_app
from crm_api.config import Settings

COMMITTED = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
METHODS = ("get", "post", "put", "patch", "delete")
OPERATION_ID = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def _generated_text(document: dict[str, Any]) -> str:
    # Exactly as `crm-api openapi` writes it (crm_api/cli.py).
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _operations(document: dict[str, Any]):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_the_committed_document_matches_the_code(document):
    committed = COMMITTED.read_text(encoding="utf-8")
    generated = _generated_text(document)
    if committed != generated:
        changed = sorted(set(json.loads(committed)["paths"]) ^ set(document["paths"]))
        pytest.fail(f"openapi/openapi.json is out of date with the code: run `make openapi` and commit it "
                    f"(paths added or removed: {changed or 'none; schemas or details differ'})")


def test_operation_ids_are_resource_action_and_unique(document):
    seen: dict[str, str] = {}
    for path, method, operation in _operations(document):
        operation_id = operation.get("operationId")
        where = f"{method.upper()} {path}"
        assert operation_id, f"{where} has no operationId"
        assert OPERATION_ID.match(operation_id), f"{where}: {operation_id!r} is not <resource>_<action>"
        assert operation_id not in seen, f"{operation_id} is used by {seen.get(operation_id)} and {where}"
        seen[operation_id] = where
        if path.startswith("/v1/"):
            resource = path.split("/")[2].replace("-", "_")
            assert operation_id.startswith(resource + "_"), f"{where}: {operation_id} should start with {resource}_"


def test_every_error_response_is_documented_as_a_problem(document):
    problem_ref = "#/components/schemas/Problem"
    assert {"type", "title", "status", "detail", "instance"} <= set(
        document["components"]["schemas"]["Problem"]["required"])
    missing = []
    for path, method, operation in _operations(document):
        if not path.startswith("/v1/"):
            continue
        responses = operation["responses"]
        expected = {"422"} if operation.get("security") == [] else {"401", "403", "422"}
        if "{" in path:
            expected.add("404")
        if method == "post":
            expected |= {"409", "413"}
        if method == "patch":
            expected |= {"412", "413"}
        if method == "delete" and "{record_id}" in path:
            expected.add("412")
        for status in sorted(expected):
            response = responses.get(status)
            schema = (response or {}).get("content", {}).get("application/problem+json", {}).get("schema", {})
            if schema.get("$ref") != problem_ref:
                missing.append(f"{method.upper()} {path} {status}")
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert "application/json" not in response.get("content", {}), f"{method.upper()} {path} {status}"
    assert not missing, "error responses not documented as problem+json:\n" + "\n".join(missing)


def test_authenticated_operations_declare_the_bearer_scheme(document):
    schemes = document["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    public = set()
    for path, method, operation in _operations(document):
        if path.startswith("/v1/") and operation.get("security") == []:
            public.add(path)  # public by design, and declared so explicitly
        elif path.startswith("/v1/"):
            assert operation.get("security"), f"{method.upper()} {path} declares no security"
    # A calendar app cannot send credentials: the feed's secret URL is its credential. Nothing else is public.
    assert public == {"/v1/calendar-feeds/{token}.ics"}


def test_success_responses_are_documented(document):
    for path, method, operation in _operations(document):
        successes = [s for s in operation["responses"] if s.startswith("2")]
        assert successes, f"{method.upper()} {path} documents no success response"
        if method == "post" and path.count("/") == 2 and path.startswith("/v1/"):
            assert "201" in successes, f"{method.upper()} {path} creates, so answers 201"
        if method == "delete":
            assert "204" in successes, f"{method.upper()} {path} answers 204"
