"""Companies: another tenant's records are invisible (404, never listed); scopes and credentials."""

import pytest

PROBLEM = "application/problem+json"


def assert_problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["status"] == status


async def test_another_tenants_company_is_404_on_every_route(tenant, other_tenant):
    theirs = (await other_tenant.post("/v1/companies", json={"name": "Theirs"})).json()
    url = f"/v1/companies/{theirs['id']}"
    assert_problem(await tenant.get(url), 404)
    assert_problem(await tenant.patch(url, json={"name": "Mine"}), 404)
    assert_problem(await tenant.delete(url), 404)
    assert_problem(await tenant.get(f"{url}/contacts"), 404)
    assert (await other_tenant.get(url)).json() == theirs
    await other_tenant.delete(url)
    assert_problem(await tenant.post(f"{url}/restore"), 404)
    assert (await other_tenant.post(f"{url}/restore")).status_code == 200


async def test_another_tenants_companies_never_appear_in_lists(tenant, other_tenant):
    mine = (await tenant.post("/v1/companies", json={
        "name": "Acme", "domain": "acme.example", "industry": "Rockets", "relationship": "customer",
        "tags": ["key"], "address": {"city": "Berlin", "country": "DE"}})).json()
    await other_tenant.post("/v1/companies", json={
        "name": "Acme", "domain": "acme.example", "industry": "Rockets", "relationship": "customer",
        "tags": ["key"], "address": {"city": "Berlin", "country": "DE"}})
    for params in ({}, {"q": "acme"}, {"industry": "rockets"}, {"relationship": "customer"}, {"tag": "key"},
                   {"country": "DE"}, {"city": "berlin"}, {"domain": "acme.example"}, {"sort": "name"}):
        ids = [c["id"] for c in (await tenant.get("/v1/companies", params=params)).json()["data"]]
        assert ids == [mine["id"]], params


@pytest.mark.parametrize(("method", "path", "scope"), [
    ("GET", "/v1/companies", "companies:read"),
    ("GET", "/v1/companies/{id}", "companies:read"),
    ("POST", "/v1/companies", "companies:write"),
    ("PATCH", "/v1/companies/{id}", "companies:write"),
    ("DELETE", "/v1/companies/{id}", "companies:write"),
    ("POST", "/v1/companies/{id}/restore", "companies:write"),
])
async def test_a_key_without_the_scope_is_403_and_with_it_is_let_in(tenant, method, path, scope):
    company = (await tenant.post("/v1/companies", json={"name": "Acme"})).json()
    if path.endswith("/restore"):
        await tenant.delete(f"/v1/companies/{company['id']}")
    url = path.format(id=company["id"])
    body = {"name": "Acme 2"} if method in ("POST", "PATCH") else None
    wrong = ["contacts:read", "contacts:write"] + (["companies:read"] if scope.endswith("write") else [])
    lacking = await tenant.with_scopes(*wrong)
    assert_problem(await lacking.request(method, url, json=body), 403)
    current = await tenant.get(f"/v1/companies/{company['id']}")
    if path.endswith("/restore"):
        assert current.status_code == 404
    else:
        assert current.json() == company
    allowed = await tenant.with_scopes(scope)
    response = await allowed.request(method, url, json=body)
    assert response.status_code < 300, response.text


async def test_company_contacts_needs_contacts_read(tenant):
    company = (await tenant.post("/v1/companies", json={"name": "Acme"})).json()
    url = f"/v1/companies/{company['id']}/contacts"
    assert_problem(await (await tenant.with_scopes("companies:read")).get(url), 403)
    assert (await (await tenant.with_scopes("contacts:read")).get(url)).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer crm_wrong"}, {"Authorization": "Token x"}])
async def test_without_a_valid_key_is_401(client, tenant, headers):
    company = (await tenant.post("/v1/companies", json={"name": "Acme"})).json()
    for method, url in (("GET", "/v1/companies"), ("GET", f"/v1/companies/{company['id']}"),
                        ("POST", "/v1/companies"), ("PATCH", f"/v1/companies/{company['id']}"),
                        ("DELETE", f"/v1/companies/{company['id']}"),
                        ("GET", f"/v1/companies/{company['id']}/contacts")):
        response = await client.request(method, url, headers=headers,
                                        json={"name": "X"} if method in ("POST", "PATCH") else None)
        assert_problem(response, 401)
    assert (await tenant.get(f"/v1/companies/{company['id']}")).json() == company
