"""ETag / If-Match: stale versions are 412 and change nothing; concurrent writers cannot both win."""

from __future__ import annotations

import asyncio

import pytest

from tests.kit.rows import assert_problem, error_fields, events_of


async def _contact(tenant, **fields):
    response = await tenant.post("/v1/contacts", json={"first_name": "Eve", **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def test_get_answers_the_version_as_etag_and_patch_moves_it(tenant):
    contact = await _contact(tenant)
    fetched = await tenant.get(f"/v1/contacts/{contact['id']}")
    assert fetched.headers["etag"] == '"1"'
    patched = await tenant.patch(f"/v1/contacts/{contact['id']}", json={"last_name": "Ng"},
                                 headers={"If-Match": '"1"'})
    assert patched.status_code == 200, patched.text
    assert patched.headers["etag"] == '"2"'
    assert patched.json()["version"] == 2


async def test_patch_with_a_stale_if_match_is_412_and_changes_nothing(tenant, owner_engine):
    contact = await _contact(tenant)
    url = f"/v1/contacts/{contact['id']}"
    assert (await tenant.patch(url, json={"last_name": "One"})).status_code == 200
    before = (await tenant.get(url)).json()
    events = len(await events_of(owner_engine, tenant.id))

    stale = await tenant.patch(url, json={"last_name": "Two"}, headers={"If-Match": '"1"'})
    body = assert_problem(stale, 412)
    assert body["current_version"] == 2

    assert (await tenant.get(url)).json() == before
    assert len(await events_of(owner_engine, tenant.id)) == events


async def test_delete_with_a_stale_if_match_is_412_and_keeps_the_record(tenant, owner_engine):
    contact = await _contact(tenant)
    url = f"/v1/contacts/{contact['id']}"
    await tenant.patch(url, json={"last_name": "Moved"})
    events = len(await events_of(owner_engine, tenant.id))

    assert_problem(await tenant.delete(url, headers={"If-Match": '"1"'}), 412)
    still = await tenant.get(url)
    assert still.status_code == 200
    assert still.json()["version"] == 2
    assert len(await events_of(owner_engine, tenant.id)) == events

    assert (await tenant.delete(url, headers={"If-Match": '"2"'})).status_code == 204
    assert (await tenant.get(url)).status_code == 404


async def test_two_concurrent_patches_with_the_same_if_match_one_wins(tenant):
    contact = await _contact(tenant)
    url = f"/v1/contacts/{contact['id']}"
    await asyncio.gather(*[tenant.get(url) for _ in range(4)])  # pooled connections, so both start at once
    first, second = await asyncio.gather(
        tenant.patch(url, json={"last_name": "Left"}, headers={"If-Match": '"1"'}),
        tenant.patch(url, json={"last_name": "Right"}, headers={"If-Match": '"1"'}),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 412]
    winner = first if first.status_code == 200 else second
    final = (await tenant.get(url)).json()
    assert final["version"] == 2
    assert final["last_name"] == winner.json()["last_name"]


@pytest.mark.parametrize("value", ['"abc"', "1.5", '"-1"', "W/", '"1", "2"'])
async def test_a_malformed_if_match_is_422(tenant, value):
    contact = await _contact(tenant)
    url = f"/v1/contacts/{contact['id']}"
    patched = await tenant.patch(url, json={"last_name": "X"}, headers={"If-Match": value})
    assert_problem(patched, 422)
    assert "If-Match" in error_fields(patched)
    assert_problem(await tenant.delete(url, headers={"If-Match": value}), 422)
    assert (await tenant.get(url)).json()["version"] == 1


async def test_without_if_match_the_last_write_wins(tenant):
    contact = await _contact(tenant)
    url = f"/v1/contacts/{contact['id']}"
    assert (await tenant.patch(url, json={"last_name": "First"})).status_code == 200
    assert (await tenant.patch(url, json={"last_name": "Second"})).status_code == 200
    assert (await tenant.patch(url, json={"last_name": "Third"}, headers={"If-Match": "*"})).status_code == 200
    final = (await tenant.get(url)).json()
    assert final["last_name"] == "Third"
    assert final["version"] == 4



async def test_a_weak_etag_never_matches(tenant):
    contact = await _contact(tenant)
    url = f"/v1/contacts/{contact['id']}"
    refused = await tenant.patch(url, json={"last_name": "X"}, headers={"If-Match": 'W/"1"'})
    assert_problem(refused, 412)
    assert (await tenant.get(url)).json()["version"] == 1
