"""Custom field values on contacts: every type's validation, normalisation, required fields and filters."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kit.rows import assert_problem, error_fields

DEFINITIONS = [
    {"key": "note", "type": "text"},
    {"key": "score", "type": "number"},
    {"key": "active", "type": "boolean"},
    {"key": "birthday", "type": "date"},
    {"key": "met_at", "type": "datetime"},
    {"key": "tier", "type": "select", "options": ["gold", "silver"]},
    {"key": "langs", "type": "multiselect", "options": ["en", "de", "fr"]},
    {"key": "alt_email", "type": "email"},
    {"key": "homepage", "type": "url"},
    {"key": "fax", "type": "phone"},
]

VALID: list[tuple[str, Any, Any]] = [
    ("note", "Likes tea", "Likes tea"),
    ("note", "", ""),
    ("score", 42, 42),
    ("score", -3.25, -3.25),
    ("score", 0, 0),
    ("active", True, True),
    ("active", False, False),
    ("birthday", "1990-02-28", "1990-02-28"),
    ("birthday", "2024-02-29", "2024-02-29"),
    ("met_at", "2026-11-23T19:30:00+01:00", "2026-11-23T18:30:00Z"),
    ("met_at", "2026-11-23T18:30:00Z", "2026-11-23T18:30:00Z"),
    ("met_at", "2026-11-23T12:00:00-05:30", "2026-11-23T17:30:00Z"),
    ("tier", "gold", "gold"),
    ("langs", ["de", "en"], ["de", "en"]),
    ("langs", ["en", "en", "fr"], ["en", "fr"]),
    ("langs", [], []),
    ("alt_email", "Ada@Example.COM", "Ada@example.com"),
    ("homepage", "https://example.com/about?x=1", "https://example.com/about?x=1"),
    ("homepage", "http://example.org", "http://example.org"),
    ("fax", "+49 (30) 123-4567", "+49 (30) 123-4567"),
]

INVALID: list[tuple[str, Any]] = [
    ("note", 5),
    ("note", ["a"]),
    ("note", "x" * 10_001),
    ("score", "42"),
    ("score", True),
    ("score", {"value": 1}),
    ("active", "true"),
    ("active", 1),
    ("birthday", "2026-02-30"),
    ("birthday", "1990-2-1"),
    ("birthday", "28.02.1990"),
    ("birthday", "1990-02-28T00:00:00Z"),
    ("birthday", 19900228),
    ("met_at", "2026-11-23T18:30:00"),
    ("met_at", "2026-11-23"),
    ("met_at", "yesterday"),
    ("met_at", 1700000000),
    ("tier", "bronze"),
    ("tier", "Gold"),
    ("tier", ["gold"]),
    ("langs", "en"),
    ("langs", ["en", "es"]),
    ("langs", [1]),
    ("alt_email", "not-an-email"),
    ("alt_email", "a@b@c.com"),
    ("alt_email", 7),
    ("homepage", "example.com"),
    ("homepage", "ftp://example.com/file"),
    ("homepage", "javascript:alert(1)"),
    ("homepage", "https://exa mple.com"),
    ("fax", "call me"),
    ("fax", "12"),
    ("fax", 4930123),
]


@pytest.fixture
async def fielded(tenant):
    """A tenant with one contact field of every type."""
    for definition in DEFINITIONS:
        body = {"object_type": "contact", "label": definition["key"].title(), **definition}
        response = await tenant.post("/v1/custom-fields", json=body)
        assert response.status_code == 201, response.text
    return tenant


async def test_every_type_accepts_valid_values_and_normalises_them(fielded):
    for key, value, stored in VALID:
        created = await fielded.post("/v1/contacts", json={"first_name": "V", "custom_fields": {key: value}})
        assert created.status_code == 201, (key, value, created.text)
        assert created.json()["custom_fields"] == {key: stored}, (key, value)
        fetched = await fielded.get(f"/v1/contacts/{created.json()['id']}")
        assert fetched.json()["custom_fields"] == {key: stored}


async def test_every_type_refuses_invalid_values_naming_the_field(fielded, owner_engine):
    from tests.kit.rows import count_rows

    for key, value in INVALID:
        response = await fielded.post("/v1/contacts", json={"first_name": "I", "custom_fields": {key: value}})
        assert_problem(response, 422)
        assert error_fields(response) == {f"custom_fields.{key}"}, (key, value, response.json())
    assert await count_rows(owner_engine, "contacts", fielded.id) == 0


async def test_invalid_values_are_refused_on_patch_too(fielded):
    contact = (await fielded.post("/v1/contacts", json={"first_name": "P", "custom_fields": {"score": 1}})).json()
    url = f"/v1/contacts/{contact['id']}"
    for key, value in INVALID[::3]:
        response = await fielded.patch(url, json={"custom_fields": {key: value}})
        assert_problem(response, 422)
        assert f"custom_fields.{key}" in error_fields(response)
    assert (await fielded.get(url)).json()["custom_fields"] == {"score": 1}
    assert (await fielded.get(url)).json()["version"] == 1


async def test_all_bad_values_are_reported_at_once(fielded):
    response = await fielded.post("/v1/contacts", json={"first_name": "M", "custom_fields": {
        "score": "high", "tier": "bronze", "unknown_key": 1, "note": "fine"}})
    assert_problem(response, 422)
    assert error_fields(response) == {"custom_fields.score", "custom_fields.tier", "custom_fields.unknown_key"}


async def test_patch_merges_values_and_null_clears_one(fielded):
    created = await fielded.post("/v1/contacts", json={"first_name": "M", "custom_fields": {
        "note": "a", "score": 1}})
    url = f"/v1/contacts/{created.json()['id']}"
    merged = await fielded.patch(url, json={"custom_fields": {"score": 2, "tier": "gold"}})
    assert merged.status_code == 200, merged.text
    assert merged.json()["custom_fields"] == {"note": "a", "score": 2, "tier": "gold"}
    cleared = await fielded.patch(url, json={"custom_fields": {"note": None}})
    assert cleared.json()["custom_fields"] == {"score": 2, "tier": "gold"}
    untouched = await fielded.patch(url, json={"last_name": "Other"})
    assert untouched.json()["custom_fields"] == {"score": 2, "tier": "gold"}


async def test_a_field_of_another_object_type_is_not_accepted(tenant):
    response = await tenant.post("/v1/custom-fields", json={"object_type": "company", "key": "size_band",
                                                             "label": "Size", "type": "text"})
    assert response.status_code == 201
    refused = await tenant.post("/v1/contacts", json={"first_name": "X", "custom_fields": {"size_band": "L"}})
    assert_problem(refused, 422)
    assert error_fields(refused) == {"custom_fields.size_band"}
    accepted = await tenant.post("/v1/companies", json={"name": "Y", "custom_fields": {"size_band": "L"}})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["custom_fields"] == {"size_band": "L"}


async def test_a_trashed_definition_no_longer_accepts_values(tenant):
    field = (await tenant.post("/v1/custom-fields", json={"object_type": "contact", "key": "gone",
                                                          "label": "Gone", "type": "text"})).json()
    assert (await tenant.post("/v1/contacts", json={"first_name": "A", "custom_fields": {"gone": "x"}})).status_code \
        == 201
    assert (await tenant.delete(f"/v1/custom-fields/{field['id']}")).status_code == 204
    response = await tenant.post("/v1/contacts", json={"first_name": "B", "custom_fields": {"gone": "x"}})
    assert_problem(response, 422)
    assert error_fields(response) == {"custom_fields.gone"}


async def test_required_fields_are_enforced_on_create_and_when_cleared(tenant):
    field = await tenant.post("/v1/custom-fields", json={"object_type": "contact", "key": "region",
                                                         "label": "Region", "type": "select",
                                                         "options": ["emea", "apac"], "required": True})
    assert field.status_code == 201, field.text

    missing = await tenant.post("/v1/contacts", json={"first_name": "R"})
    assert_problem(missing, 422)
    assert error_fields(missing) == {"custom_fields.region"}
    null = await tenant.post("/v1/contacts", json={"first_name": "R", "custom_fields": {"region": None}})
    assert_problem(null, 422)
    assert error_fields(null) == {"custom_fields.region"}

    created = await tenant.post("/v1/contacts", json={"first_name": "R", "custom_fields": {"region": "emea"}})
    assert created.status_code == 201, created.text
    url = f"/v1/contacts/{created.json()['id']}"
    cleared = await tenant.patch(url, json={"custom_fields": {"region": None}})
    assert_problem(cleared, 422)
    assert error_fields(cleared) == {"custom_fields.region"}
    assert (await tenant.get(url)).json()["custom_fields"] == {"region": "emea"}
    # Other changes still go through.
    assert (await tenant.patch(url, json={"custom_fields": {"region": "apac"}})).status_code == 200

    # Once it is optional again, it can be cleared.
    assert (await tenant.patch(f"/v1/custom-fields/{field.json()['id']}", json={"required": False})).status_code \
        == 200
    assert (await tenant.patch(url, json={"custom_fields": {"region": None}})).json()["custom_fields"] == {}


async def test_custom_field_filters_on_the_contact_list(fielded):
    gold = (await fielded.post("/v1/contacts", json={"first_name": "G", "custom_fields": {
        "tier": "gold", "score": 5, "active": True, "langs": ["en", "de"]}})).json()
    silver = (await fielded.post("/v1/contacts", json={"first_name": "S", "custom_fields": {
        "tier": "silver", "score": 5.5, "active": False, "langs": ["fr"]}})).json()

    async def ids(query: str) -> list[str]:
        response = await fielded.get(f"/v1/contacts?{query}")
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["data"]]

    assert await ids("custom_fields.tier=gold") == [gold["id"]]
    assert await ids("custom_fields.score=5") == [gold["id"]]
    assert await ids("custom_fields.score=5.5") == [silver["id"]]
    assert await ids("custom_fields.active=false") == [silver["id"]]
    assert await ids("custom_fields.langs=de") == [gold["id"]]
    assert await ids("custom_fields.tier=gold&custom_fields.active=false") == []
    for query, field in [("custom_fields.tier=bronze", "custom_fields.tier"),
                         ("custom_fields.score=many", "custom_fields.score"),
                         ("custom_fields.active=yes", "custom_fields.active"),
                         ("custom_fields.nope=1", "custom_fields.nope")]:
        response = await fielded.get(f"/v1/contacts?{query}")
        assert_problem(response, 422)
        assert field in error_fields(response)


async def test_numbers_json_cannot_store_are_422_not_500(fielded):
    for raw in (b"1e400", b"-1e400", b"NaN", b"Infinity"):
        body = b'{"first_name": "N", "custom_fields": {"score": ' + raw + b"}}"
        response = await fielded.post("/v1/contacts", content=body, headers={"Content-Type": "application/json"})
        assert_problem(response, 422)
        assert error_fields(response) == {"custom_fields.score"}, raw
    huge = await fielded.post("/v1/contacts", json={"first_name": "N", "custom_fields": {"score": 10**40}})
    assert huge.status_code == 201
    assert huge.json()["custom_fields"] == {"score": 10**40}


@pytest.mark.parametrize("raw", ["NaN", "sNaN", "Infinity", "-inf", "1e999999"])
async def test_number_filters_refuse_what_is_no_json_number(fielded, raw):
    response = await fielded.get("/v1/contacts", params={"custom_fields.score": raw})
    assert_problem(response, 422)
    assert "custom_fields.score" in error_fields(response)


async def test_a_nul_character_in_a_text_value_is_422(fielded, owner_engine):
    from tests.kit.rows import count_rows

    response = await fielded.post("/v1/contacts", json={"first_name": "T", "custom_fields": {"note": "a\u0000b"}})
    assert_problem(response, 422)
    assert await count_rows(owner_engine, "contacts", fielded.id) == 0
