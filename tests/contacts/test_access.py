"""Contacts: another tenant's records are invisible (404, never listed); scopes and credentials."""

import uuid

import pytest

PROBLEM = "application/problem+json"


def assert_problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["status"] == status


async def create_contact(tenant, **body):
    response = await tenant.post("/v1/contacts", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_another_tenants_contact_is_404_on_every_route(tenant, other_tenant):
    theirs = await create_contact(other_tenant, first_name="Their", last_name="Contact", email="t@example.com")
    url = f"/v1/contacts/{theirs['id']}"
    assert_problem(await tenant.get(url), 404)
    assert_problem(await tenant.patch(url, json={"first_name": "Mine now"}), 404)
    assert_problem(await tenant.delete(url), 404)
    assert (await other_tenant.get(url)).json() == theirs

    assert (await other_tenant.delete(url)).status_code == 204
    assert_problem(await tenant.post(f"{url}/restore"), 404)
    assert (await other_tenant.post(f"{url}/restore")).status_code == 200


async def test_another_tenants_company_contacts_are_404(tenant, other_tenant):
    company = (await other_tenant.post("/v1/companies", json={"name": "Theirs"})).json()
    await create_contact(other_tenant, first_name="Their", company_id=company["id"])
    assert_problem(await tenant.get(f"/v1/companies/{company['id']}/contacts"), 404)
    assert len((await other_tenant.get(f"/v1/companies/{company['id']}/contacts")).json()["data"]) == 1


async def test_another_tenants_contacts_never_appear_in_lists_search_or_duplicates(tenant, other_tenant):
    mine = await create_contact(tenant, first_name="John", last_name="Smith", email="john@mine.example",
                                phone="+49 30 1234567", address={"city": "Berlin", "country": "DE"}, tags=["vip"])
    await create_contact(other_tenant, first_name="John", last_name="Smith", email="john@theirs.example",
                         phone="030-1234567", address={"city": "Berlin", "country": "DE"}, tags=["vip"])
    for params in ({}, {"q": "john"}, {"q": "smiht"}, {"q": "1234567"}, {"tag": "vip"}, {"city": "berlin"},
                   {"country": "DE"}, {"sort": "last_name"}):
        ids = [c["id"] for c in (await tenant.get("/v1/contacts", params=params)).json()["data"]]
        assert ids == [mine["id"]], params
    await create_contact(other_tenant, first_name="Wilhelmina", last_name="Zwart", email="wz@theirs.example")
    for params in ({"name": "John Smith"}, {"name": "Jon Smith"}, {"phone": "030 1234567"},
                   {"name": "John Smith", "email": "JOHN@THEIRS.EXAMPLE", "phone": "+49301234567"}):
        response = await tenant.get("/v1/contacts/duplicates", params=params)
        assert [m["contact"]["id"] for m in response.json()["data"]] == [mine["id"]], params
    for params in ({"email": "john@theirs.example"}, {"name": "Wilhelmina Zwart"}, {"name": "Wilhelmina Zwrat"},
                   {"email": "wz@theirs.example"}):
        assert (await tenant.get("/v1/contacts/duplicates", params=params)).json()["data"] == [], params


async def test_another_tenants_company_or_owner_id_as_a_filter_finds_nothing(tenant, other_tenant):
    company = (await other_tenant.post("/v1/companies", json={"name": "Theirs"})).json()
    await create_contact(other_tenant, first_name="Their", company_id=company["id"])
    await create_contact(tenant, first_name="Mine")
    assert (await tenant.get("/v1/contacts", params={"company_id": company["id"]})).json()["data"] == []


@pytest.mark.parametrize(("method", "path", "scope"), [
    ("GET", "/v1/contacts", "contacts:read"),
    ("GET", "/v1/contacts/{id}", "contacts:read"),
    ("GET", "/v1/contacts/duplicates?name=Ada", "contacts:read"),
    ("GET", "/v1/companies/{company}/contacts", "contacts:read"),
    ("POST", "/v1/contacts", "contacts:write"),
    ("PATCH", "/v1/contacts/{id}", "contacts:write"),
    ("DELETE", "/v1/contacts/{id}", "contacts:write"),
    ("POST", "/v1/contacts/{id}/restore", "contacts:write"),
])
async def test_a_key_without_the_scope_is_403_and_with_it_is_let_in(tenant, method, path, scope):
    company = (await tenant.post("/v1/companies", json={"name": "Acme"})).json()
    contact = await create_contact(tenant, first_name="Ada", company_id=company["id"])
    if path.endswith("/restore"):
        await tenant.delete(f"/v1/contacts/{contact['id']}")
    url = path.format(id=contact["id"], company=company["id"])
    body = {"first_name": "Ada"} if method in ("POST", "PATCH") else None
    wrong_scopes = ["companies:read", "companies:write"] + (["contacts:read"] if scope.endswith("write") else [])
    lacking = await tenant.with_scopes(*wrong_scopes)
    response = await lacking.request(method, url, json=body)
    assert_problem(response, 403)
    assert (await tenant.get(f"/v1/contacts/{contact['id']}")).status_code == (404 if path.endswith("/restore")
                                                                               else 200)
    allowed = await tenant.with_scopes(scope)
    response = await allowed.request(method, url, json=body)
    assert response.status_code < 300, response.text


async def test_a_read_only_key_changes_nothing(tenant):
    contact = await create_contact(tenant, first_name="Ada")
    reader = await tenant.with_scopes("contacts:read")
    assert (await reader.get(f"/v1/contacts/{contact['id']}")).status_code == 200
    assert_problem(await reader.patch(f"/v1/contacts/{contact['id']}", json={"first_name": "X"}), 403)
    assert_problem(await reader.post("/v1/contacts", json={"first_name": "X"}), 403)
    data = (await tenant.get("/v1/contacts")).json()["data"]
    assert [c["first_name"] for c in data] == ["Ada"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer crm_not-a-real-key"},
                                     {"Authorization": "Bearer something-else"}, {"Authorization": "Basic abc"}])
async def test_without_a_valid_key_is_401(client, tenant, headers):
    contact = await create_contact(tenant, first_name="Ada")
    for method, url in (("GET", "/v1/contacts"), ("GET", f"/v1/contacts/{contact['id']}"),
                        ("POST", "/v1/contacts"), ("GET", "/v1/contacts/duplicates?name=Ada"),
                        ("DELETE", f"/v1/contacts/{contact['id']}")):
        response = await client.request(method, url, headers=headers,
                                        json={"first_name": "X"} if method == "POST" else None)
        assert_problem(response, 401)
    assert (await tenant.get(f"/v1/contacts/{contact['id']}")).status_code == 200


async def test_a_revoked_key_is_401(tenant):
    scoped = await tenant.with_scopes("contacts:read")
    assert (await scoped.get("/v1/contacts")).status_code == 200
    key_id = next(k["id"] for k in (await tenant.get("/v1/api-keys")).json()["data"] if k["name"] == "scoped")
    assert (await tenant.delete(f"/v1/api-keys/{key_id}")).status_code == 204
    assert_problem(await scoped.get("/v1/contacts"), 401)


async def test_unknown_id_and_another_tenants_id_answer_alike(tenant, other_tenant):
    theirs = await create_contact(other_tenant, first_name="Their")
    unknown = await tenant.get(f"/v1/contacts/{uuid.uuid4()}")
    other = await tenant.get(f"/v1/contacts/{theirs['id']}")
    assert unknown.status_code == other.status_code == 404
    assert {k: v for k, v in unknown.json().items() if k not in ("detail", "instance")} == \
        {k: v for k, v in other.json().items() if k not in ("detail", "instance")}
