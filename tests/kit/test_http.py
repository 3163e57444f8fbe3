"""What every response shares: X-Request-Id, problem+json errors, and the body size limit."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from tests.kit.rows import assert_problem, count_rows, error_fields

MINTED = re.compile(r"^[0-9a-f]{32}$")


async def test_a_request_id_is_minted_when_absent(client, tenant):
    first = await tenant.get("/v1/contacts")
    second = await tenant.get("/v1/contacts")
    assert MINTED.match(first.headers["x-request-id"])
    assert MINTED.match(second.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert MINTED.match((await client.get("/healthz")).headers["x-request-id"])


async def test_a_request_id_is_echoed_when_sent(tenant):
    response = await tenant.get("/v1/contacts", headers={"X-Request-Id": "client-req:42.a_b"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "client-req:42.a_b"
    assert response.headers.get_list("x-request-id") == ["client-req:42.a_b"]


async def test_an_unsafe_request_id_is_replaced(tenant):
    response = await tenant.get("/v1/contacts", headers={"X-Request-Id": "a b<script>" + "x" * 200})
    assert MINTED.match(response.headers["x-request-id"])


async def test_errors_carry_the_request_id_too(client, tenant):
    cases = [
        (await client.get("/v1/contacts", headers={"X-Request-Id": "r-401"}), 401, "r-401"),
        (await tenant.get(f"/v1/contacts/{uuid.uuid4()}", headers={"X-Request-Id": "r-404"}), 404, "r-404"),
        (await tenant.get("/v1/no-such-thing", headers={"X-Request-Id": "r-404b"}), 404, "r-404b"),
        (await tenant.get("/v1/contacts?limit=0", headers={"X-Request-Id": "r-422"}), 422, "r-422"),
        (await tenant.post("/v1/contacts", json={"first_name": "x" * 70_000}, headers={"X-Request-Id": "r-413"}),
         413, "r-413"),
    ]
    for response, status, request_id in cases:
        assert_problem(response, status)
        assert response.headers["x-request-id"] == request_id
    minted = await client.get("/v1/contacts")
    assert_problem(minted, 401)
    assert MINTED.match(minted.headers["x-request-id"])


async def test_a_body_over_the_limit_is_413_by_content_length(tenant, owner_engine):
    body = json.dumps({"first_name": "Big", "job_title": "x" * (65 * 1024)})
    response = await tenant.post("/v1/contacts", content=body, headers={"Content-Type": "application/json"})
    problem = assert_problem(response, 413)
    assert problem["type"].endswith(":payload-too-large")
    assert await count_rows(owner_engine, "contacts", tenant.id) == 0


async def test_a_streamed_body_over_the_limit_is_413(tenant, owner_engine):
    async def chunks():
        yield b'{"first_name": "Big", "job_title": "'
        for _ in range(70):
            yield b"x" * 1024
        yield b'"}'

    response = await tenant.post("/v1/contacts", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    assert response.headers["x-request-id"]
    assert await count_rows(owner_engine, "contacts", tenant.id) == 0


async def test_a_body_just_under_the_limit_is_accepted(tenant):
    for i in range(6):
        response = await tenant.post("/v1/custom-fields", json={"object_type": "contact", "key": f"long_{i}",
                                                                 "label": f"Long {i}", "type": "text"})
        assert response.status_code == 201
    body = {"first_name": "Fits", "custom_fields": {f"long_{i}": "x" * 10_000 for i in range(6)}}
    response = await tenant.post("/v1/contacts", json=body)
    assert 60_000 < len(response.request.content) < 64 * 1024
    assert response.status_code == 201, response.text


async def test_401_is_problem_json(client):
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic dXNlcjpwYXNz"},
                    {"Authorization": f"Bearer crm_{uuid.uuid4().hex}"}):
        body = assert_problem(await client.get("/v1/contacts", headers=headers), 401)
        assert body["type"].endswith(":unauthorized")


async def test_403_is_problem_json(tenant):
    reader = await tenant.with_scopes("contacts:read")
    body = assert_problem(await reader.post("/v1/contacts", json={"first_name": "No"}), 403)
    assert "contacts:write" in body["detail"]


async def test_404_is_problem_json(tenant, other_tenant):
    theirs = (await other_tenant.post("/v1/contacts", json={"first_name": "Theirs"})).json()
    body = assert_problem(await tenant.get(f"/v1/contacts/{theirs['id']}"), 404)
    assert body["type"].endswith(":not-found")
    missing = assert_problem(await tenant.get(f"/v1/contacts/{uuid.uuid4()}"), 404)
    # Another tenant's record reads exactly like one that does not exist.
    assert {k for k in body if k not in ("detail", "instance")} == {k for k in missing if k not in ("detail",
                                                                                                     "instance")}


async def test_409_is_problem_json_with_existing_id(tenant):
    first = (await tenant.post("/v1/contacts", json={"email": "dup@example.com"})).json()
    body = assert_problem(await tenant.post("/v1/contacts", json={"email": "Dup@Example.com"}), 409)
    assert body["existing_id"] == first["id"]


async def test_412_is_problem_json(tenant):
    contact = (await tenant.post("/v1/contacts", json={"first_name": "Ver"})).json()
    response = await tenant.patch(f"/v1/contacts/{contact['id']}", json={"last_name": "X"},
                                  headers={"If-Match": '"9"'})
    assert assert_problem(response, 412)["type"].endswith(":precondition-failed")


@pytest.mark.parametrize(("url", "field"), [
    ("/v1/contacts?limit=500", "limit"),
    ("/v1/contacts?bogus=1", "bogus"),
    (f"/v1/contacts/{'not-a-uuid'}", "record_id"),
])
async def test_422_is_problem_json_with_errors(tenant, url, field):
    response = await tenant.get(url)
    body = assert_problem(response, 422)
    assert body["type"].endswith(":validation-failed")
    assert all(set(e) == {"field", "message"} for e in body["errors"])
    assert field in error_fields(response)


async def test_422_for_a_body_names_the_field(tenant):
    response = await tenant.post("/v1/contacts", json={"first_name": "Ok", "email": "nope", "unknown": 1})
    assert_problem(response, 422)
    assert {"email", "unknown"} <= error_fields(response)


async def test_text_with_a_nul_character_is_422_not_500(tenant, owner_engine):
    for body in ({"first_name": "a\u0000b"}, {"first_name": "A", "tags": ["x\u0000"]}):
        response = await tenant.post("/v1/contacts", json=body)
        assert_problem(response, 422)
    assert_problem(await tenant.get("/v1/contacts", params={"email": "a\u0000@example.com"}), 422)
    assert await count_rows(owner_engine, "contacts", tenant.id) == 0


async def test_an_unsupported_method_is_405_problem_json(tenant):
    response = await tenant.request("PUT", "/v1/contacts")
    assert_problem(response, 405)
    assert response.headers["allow"]
