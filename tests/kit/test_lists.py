"""The list contract on every resource: limit bounds, opaque cursors, stable sorts, unknown parameters."""

from __future__ import annotations

import pytest

from tests.kit.rows import assert_problem, error_fields


async def _walk(tenant, url: str, limit: int) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(50):
        separator = "&" if "?" in url else "?"
        page_url = f"{url}{separator}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = await tenant.get(page_url)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["data"]) <= limit
        ids += [r["id"] for r in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("the cursor never ended")


async def test_cursors_walk_every_record_once_in_order(tenant):
    created = []
    for i in range(7):
        response = await tenant.post("/v1/users", json={"email": f"u{i}@example.com", "name": f"U{i}"})
        created.append(response.json()["id"])
    assert await _walk(tenant, "/v1/users", 3) == created[::-1]
    assert await _walk(tenant, "/v1/users?sort=created_at", 2) == created
    assert await _walk(tenant, "/v1/users?sort=-updated_at", 7) == created[::-1]
    # The last page of an exact fit has no cursor.
    assert (await tenant.get("/v1/users?limit=7")).json()["next_cursor"] is None


async def test_api_keys_paginate_too(tenant):
    for i in range(4):
        await tenant.post("/v1/api-keys", json={"name": f"k{i}", "scopes": ["contacts:read"]})
    walked = await _walk(tenant, "/v1/api-keys", 2)
    assert len(walked) == len(set(walked)) == 5  # the initial key too


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=-1", "limit=ten", "sort=email", "sort=--created_at",
                                   "cursor=not-a-cursor", "created_after=yesterday", "nonsense=1"])
async def test_bad_list_parameters_are_422(tenant, query):
    response = await tenant.get(f"/v1/users?{query}")
    assert_problem(response, 422)
    assert query.split("=")[0] in error_fields(response)


async def test_limits_of_1_and_200_are_accepted(tenant):
    assert (await tenant.get("/v1/custom-fields?limit=1")).status_code == 200
    assert (await tenant.get("/v1/custom-fields?limit=200")).status_code == 200


async def test_a_cursor_of_another_sort_is_422(tenant):
    for i in range(3):
        await tenant.post("/v1/users", json={"email": f"c{i}@example.com", "name": f"C{i}"})
    cursor = (await tenant.get("/v1/users?limit=1&sort=created_at")).json()["next_cursor"]
    assert cursor
    response = await tenant.get(f"/v1/users?limit=1&sort=-created_at&cursor={cursor}")
    assert_problem(response, 422)
    assert "cursor" in error_fields(response)


async def test_timestamp_ranges_filter(tenant):
    first = (await tenant.post("/v1/users", json={"email": "t1@example.com", "name": "T1"})).json()
    second = (await tenant.post("/v1/users", json={"email": "t2@example.com", "name": "T2"})).json()
    after = (await tenant.get("/v1/users", params={"created_after": second["created_at"]})).json()["data"]
    assert [u["id"] for u in after] == [second["id"]]
    before = (await tenant.get("/v1/users", params={"created_before": second["created_at"]})).json()["data"]
    assert [u["id"] for u in before] == [first["id"]]
