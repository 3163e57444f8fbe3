"""Companies: bad input is a 422 problem+json naming the field, and changes nothing."""

import uuid

import pytest

PROBLEM = "application/problem+json"


def assert_problem(response, status, field=None):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


async def count(tenant):
    return len((await tenant.get("/v1/companies", params={"limit": 200})).json()["data"])


@pytest.mark.parametrize(("body", "field"), [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": None}, "name"),
    ({"name": "Acme", "colour": "red"}, "colour"),
    ({"name": "Acme", "domain": "not a domain"}, "domain"),
    ({"name": "Acme", "domain": "https://acme.example"}, "domain"),
    ({"name": "Acme", "website": "acme.example"}, "website"),
    ({"name": "Acme", "employee_count": -1}, "employee_count"),
    ({"name": "Acme", "relationship": "friend"}, "relationship"),
    ({"name": "Acme", "address": {"country": "ZZ"}}, "address.country"),
    ({"name": "Acme", "address": {"planet": "Mars"}}, "address.planet"),
    ({"name": "Acme", "annual_revenue": {"amount": "1", "currency": "ABC"}}, "annual_revenue.currency"),
    ({"name": "Acme", "owner_id": str(uuid.uuid4())}, "owner_id"),
    ({"name": "Acme", "custom_fields": {"nope": 1}}, "custom_fields.nope"),
    ({"name": "Acme", "phone": "ring ring"}, "phone"),
])
async def test_bad_body_is_422_naming_the_field(tenant, body, field):
    assert_problem(await tenant.post("/v1/companies", json=body), 422, field)
    assert await count(tenant) == 0


async def test_patch_domain_in_capitals_is_stored_lower_case(tenant):
    created = (await tenant.post("/v1/companies", json={"name": "Acme"})).json()
    response = await tenant.patch(f"/v1/companies/{created['id']}", json={"domain": "WWW.Acme.Example"})
    assert response.status_code == 200, response.text
    assert response.json()["domain"] == "www.acme.example"


async def test_wrong_custom_field_type_is_422(tenant):
    response = await tenant.post("/v1/custom-fields", json={"object_type": "company", "key": "seats", "label": "S",
                                                             "type": "number"})
    assert response.status_code == 201
    assert_problem(await tenant.post("/v1/companies", json={"name": "A", "custom_fields": {"seats": "many"}}),
                   422, "custom_fields.seats")
    created = (await tenant.post("/v1/companies", json={"name": "A", "custom_fields": {"seats": 3}})).json()
    assert_problem(await tenant.patch(f"/v1/companies/{created['id']}", json={"custom_fields": {"seats": [1]}}),
                   422, "custom_fields.seats")
    assert (await tenant.get(f"/v1/companies/{created['id']}")).json()["custom_fields"] == {"seats": 3}


async def test_a_contact_custom_field_is_not_a_company_custom_field(tenant):
    await tenant.post("/v1/custom-fields", json={"object_type": "contact", "key": "nick", "label": "N",
                                                  "type": "text"})
    assert_problem(await tenant.post("/v1/companies", json={"name": "A", "custom_fields": {"nick": "x"}}),
                   422, "custom_fields.nick")


async def test_owner_of_another_tenant_is_422(tenant, other_tenant):
    user = (await other_tenant.post("/v1/users", json={"email": "them@example.com", "name": "Them"})).json()
    assert_problem(await tenant.post("/v1/companies", json={"name": "A", "owner_id": user["id"]}), 422, "owner_id")
    created = (await tenant.post("/v1/companies", json={"name": "A"})).json()
    assert_problem(await tenant.patch(f"/v1/companies/{created['id']}", json={"owner_id": user["id"]}),
                   422, "owner_id")


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 0}, "limit"),
    ({"limit": 201}, "limit"),
    ({"colour": "red"}, "colour"),
    ({"lifecycle_stage": "lead"}, "lifecycle_stage"),
    ({"company_id": str(uuid.uuid4())}, "company_id"),
    ({"cursor": "garbage!"}, "cursor"),
    ({"sort": "last_name"}, "sort"),
    ({"sort": "-revenue"}, "sort"),
    ({"relationship": "friend"}, "relationship"),
    ({"owner_id": "nope"}, "owner_id"),
    ({"updated_after": "soon"}, "updated_after"),
    ({"custom_fields.nope": "1"}, "custom_fields.nope"),
])
async def test_bad_list_parameters_are_422(tenant, params, field):
    assert_problem(await tenant.get("/v1/companies", params=params), 422, field)


async def test_a_name_cursor_is_422_on_the_default_sort(tenant):
    for name in ("A", "B", "C"):
        await tenant.post("/v1/companies", json={"name": name})
    cursor = (await tenant.get("/v1/companies", params={"limit": 1, "sort": "name"})).json()["next_cursor"]
    assert_problem(await tenant.get("/v1/companies", params={"cursor": cursor}), 422, "cursor")
    assert (await tenant.get("/v1/companies", params={"cursor": cursor, "sort": "name"})).status_code == 200
