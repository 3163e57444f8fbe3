"""Leads: fields, statuses, duplicates against leads and contacts (409 + existing_id and type), filters,
tenancy and scopes."""

import uuid

import pytest

from tests.kit.rows import assert_problem, error_fields, events_of
from tests.pipelines.helpers import created


async def lead(tenant, **body):
    return await created(tenant, "/v1/leads", **body)


async def test_create_with_every_field(tenant):
    owner = await created(tenant, "/v1/users", email="rep@example.com", name="Rep")
    await created(tenant, "/v1/custom-fields", object_type="lead", key="budget", label="Budget", type="number")
    campaign = await created(tenant, "/v1/campaigns", name="Spring 2026", channel="event")
    response = await tenant.post("/v1/leads", json={
        "first_name": "Grace", "last_name": "Hopper", "email": "Grace@Navy.example", "phone": "+1 555 0100",
        "company_name": "Navy", "company_domain": "Navy.example", "job_title": "Admiral", "source": "trade_show",
        "source_detail": "Booth 12", "campaign_id": campaign["id"], "status": "mql", "owner_id": owner["id"],
        "score": 87, "custom_fields": {"budget": 5000}})
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/leads/{body['id']}"
    assert {k: v for k, v in body.items() if k not in ("id", "created_at", "updated_at")} == {
        "version": 1, "first_name": "Grace", "last_name": "Hopper", "email": "Grace@navy.example",
        "phone": "+1 555 0100", "company_name": "Navy", "company_domain": "navy.example", "job_title": "Admiral",
        "source": "trade_show", "source_detail": "Booth 12", "campaign_id": campaign["id"], "status": "mql",
        "disqualify_reason": None, "owner_id": owner["id"], "score": 87, "custom_fields": {"budget": 5000},
        "converted_at": None, "converted_contact_id": None, "converted_company_id": None, "converted_deal_id": None}
    assert (await tenant.get(f"/v1/leads/{body['id']}")).json() == body


@pytest.mark.parametrize(("body", "field"), [
    ({}, "first_name"), ({"email": "not-an-email"}, "email"), ({"first_name": "A", "source": "tv"}, "source"),
    ({"first_name": "A", "score": 101}, "score"), ({"first_name": "A", "score": -1}, "score"),
    ({"first_name": "A", "status": "converted"}, "status"), ({"first_name": "A", "status": "disqualified"},
                                                              "disqualify_reason"),
    ({"first_name": "A", "owner_id": str(uuid.uuid4())}, "owner_id"),
    ({"first_name": "A", "campaign_id": str(uuid.uuid4())}, "campaign_id"),
    ({"first_name": "A", "campaign": "Spring"}, "campaign"),
    ({"first_name": "A", "custom_fields": {"nope": 1}}, "custom_fields.nope"),
    ({"first_name": "A", "company_domain": "not a domain"}, "company_domain"),
    ({"first_name": "A", "name": "A"}, "name"),
])
async def test_bad_input_is_422(tenant, owner_engine, body, field):
    response = await tenant.post("/v1/leads", json=body)
    assert_problem(response, 422)
    assert field in error_fields(response)
    assert (await tenant.get("/v1/leads")).json()["data"] == []
    assert not [e for e in await events_of(owner_engine, tenant.id) if e["object_type"] == "lead"]


async def test_an_email_of_an_existing_lead_or_contact_is_409_naming_it(tenant, other_tenant):
    existing = await lead(tenant, first_name="Ada", email="ada@example.com")
    body = assert_problem(await tenant.post("/v1/leads", json={"first_name": "X", "email": "ADA@example.com"}), 409)
    assert (body["existing_id"], body["existing_type"]) == (existing["id"], "lead")
    contact = await created(tenant, "/v1/contacts", first_name="Bob", email="bob@example.com")
    body = assert_problem(await tenant.post("/v1/leads", json={"first_name": "X", "email": "bob@EXAMPLE.com"}), 409)
    assert (body["existing_id"], body["existing_type"]) == (contact["id"], "contact")
    other = await lead(tenant, first_name="Cy", email="cy@example.com")
    body = assert_problem(await tenant.patch(f"/v1/leads/{other['id']}", json={"email": "ada@example.com"}), 409)
    assert (body["existing_id"], body["existing_type"]) == (existing["id"], "lead")
    # Another tenant's people are no duplicates; a lead keeps its own email; a trashed lead frees it.
    assert (await other_tenant.post("/v1/leads", json={"email": "ada@example.com"})).status_code == 201
    assert (await tenant.patch(f"/v1/leads/{existing['id']}", json={"email": "Ada@example.com"})).status_code == 200
    await tenant.delete(f"/v1/leads/{existing['id']}")
    assert (await tenant.post("/v1/leads", json={"email": "ada@example.com"})).status_code == 201


async def test_statuses(tenant):
    created_lead = await lead(tenant, first_name="A")
    assert (created_lead["status"], created_lead["score"]) == ("new", 0)
    url = f"/v1/leads/{created_lead['id']}"
    assert_problem(await tenant.patch(url, json={"status": "disqualified"}), 422)
    patched = (await tenant.patch(url, json={"status": "disqualified", "disqualify_reason": "Student"})).json()
    assert (patched["status"], patched["disqualify_reason"]) == ("disqualified", "Student")
    assert_problem(await tenant.patch(url, json={"disqualify_reason": None}), 422)
    assert_problem(await tenant.patch(url, json={"status": "converted"}), 422)
    assert_problem(await tenant.patch(url, json={"status": None}), 422)
    assert (await tenant.patch(url, json={"status": "sql"})).json()["status"] == "sql"


async def test_filters_and_search(tenant):
    owner = await created(tenant, "/v1/users", email="rep@example.com", name="Rep")
    spring = (await created(tenant, "/v1/campaigns", name="Spring", channel="email"))["id"]
    a = await lead(tenant, first_name="Ada", last_name="Lovelace", email="ada@engine.example", source="web_form",
                   campaign_id=spring, score=90, owner_id=owner["id"])
    b = await lead(tenant, first_name="Bob", company_name="Babbage Engines", source="referral", score=40,
                   status="mql", campaign_id=spring)
    c = await lead(tenant, first_name="Cy", status="disqualified", disqualify_reason="Spam", score=10)

    async def ids(**params):
        response = await tenant.get("/v1/leads", params=params)
        assert response.status_code == 200, response.text
        return sorted(x["id"] for x in response.json()["data"])

    for params, expected in [
        ({"status": "mql"}, [b]), ({"status": "disqualified"}, [c]), ({"source": "web_form"}, [a]),
        ({"owner_id": owner["id"]}, [a]), ({"campaign_id": spring}, [a, b]), ({"email": "ADA@engine.example"}, [a]),
        ({"score_min": 40}, [a, b]), ({"score_max": 40}, [b, c]), ({"score_min": 11, "score_max": 89}, [b]),
        ({"q": "engine"}, [a, b]), ({"q": "lovelace"}, [a]), ({"q": "zzz"}, []),
    ]:
        assert await ids(**params) == sorted(x["id"] for x in expected), params
    by_score = (await tenant.get("/v1/leads", params={"sort": "-score", "limit": 2})).json()
    assert [x["id"] for x in by_score["data"]] == [a["id"], b["id"]]
    rest = (await tenant.get("/v1/leads", params={"sort": "-score", "cursor": by_score["next_cursor"]})).json()
    assert [x["id"] for x in rest["data"]] == [c["id"]]
    for params in ({"status": "cold"}, {"score_min": 101}, {"source": "tv"}, {"colour": "x"}, {"sort": "email"}):
        assert_problem(await tenant.get("/v1/leads", params=params), 422)


async def test_crud_events(tenant, owner_engine):
    created_lead = await lead(tenant, first_name="A")
    url = f"/v1/leads/{created_lead['id']}"
    await tenant.patch(url, json={"score": 5}, headers={"If-Match": '"1"'})
    assert_problem(await tenant.patch(url, json={"score": 6}, headers={"If-Match": '"1"'}), 412)
    await tenant.delete(url)
    assert_problem(await tenant.get(url), 404)
    await tenant.post(f"{url}/restore")
    events = [e for e in await events_of(owner_engine, tenant.id) if e["object_type"] == "lead"]
    assert [e["type"] for e in events] == ["lead.created", "lead.updated", "lead.deleted", "lead.restored"]
    assert events[1]["previous"] == {"score": 0}


async def test_another_tenants_lead_is_404(tenant, other_tenant):
    theirs = await lead(other_tenant, first_name="Theirs")
    url = f"/v1/leads/{theirs['id']}"
    for method, path, body in [("GET", url, None), ("PATCH", url, {"score": 1}), ("DELETE", url, None),
                               ("POST", f"{url}/restore", None), ("POST", f"{url}/convert", {})]:
        assert_problem(await tenant.request(method, path, json=body), 404)
    assert (await other_tenant.get(url)).json() == theirs
    assert (await tenant.get("/v1/leads")).json()["data"] == []


@pytest.mark.parametrize(("method", "path", "scope"), [
    ("GET", "/v1/leads", "leads:read"), ("GET", "/v1/leads/{id}", "leads:read"),
    ("POST", "/v1/leads", "leads:write"), ("PATCH", "/v1/leads/{id}", "leads:write"),
    ("DELETE", "/v1/leads/{id}", "leads:write"), ("POST", "/v1/leads/{id}/restore", "leads:write"),
    ("POST", "/v1/leads/{id}/convert", "leads:write"),
])
async def test_a_key_without_the_scope_is_403_and_with_it_is_let_in(tenant, method, path, scope):
    created_lead = await lead(tenant, first_name="Scoped", email="scoped@example.com")
    if path.endswith("/restore"):
        await tenant.delete(f"/v1/leads/{created_lead['id']}")
    body = {"POST": {"first_name": "Other"}, "PATCH": {"score": 3}}.get(method)
    if path.endswith(("/convert", "/restore")):
        body = {} if path.endswith("/convert") else None
    url = path.format(id=created_lead["id"])
    wrong = ["contacts:read", "contacts:write"] + (["leads:read"] if scope == "leads:write" else [])
    lacking = await tenant.with_scopes(*wrong)
    assert_problem(await lacking.request(method, url, json=body), 403)
    after = await tenant.get(f"/v1/leads/{created_lead['id']}")
    assert after.status_code == 404 if path.endswith("/restore") else after.json() == created_lead
    allowed = await tenant.with_scopes(scope)
    response = await allowed.request(method, url, json=body)
    assert response.status_code < 300, response.text
