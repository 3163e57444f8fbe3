"""Deals: every field, defaults from the pipeline, money, PATCH semantics, trash, validation, tenancy, scopes."""

import uuid

import pytest

from tests.kit.rows import assert_problem, error_fields, events_of
from tests.pipelines.helpers import created, default_pipeline, make_deal, make_pipeline, stage_ids


async def test_create_with_every_field(tenant):
    user = await created(tenant, "/v1/users", email="owner@example.com", name="Owner")
    company = await created(tenant, "/v1/companies", name="Acme")
    ada = await created(tenant, "/v1/contacts", first_name="Ada")
    bob = await created(tenant, "/v1/contacts", first_name="Bob")
    await created(tenant, "/v1/custom-fields", object_type="deal", key="region", label="Region", type="select",
                  options=["emea", "apac"])
    pipeline = await make_pipeline(tenant)
    stages = stage_ids(pipeline)
    response = await tenant.post("/v1/deals", json={
        "title": "  Big deal ", "amount": {"amount": "12345.67", "currency": "usd"}, "pipeline_id": pipeline["id"],
        "stage_id": stages["Offer"], "owner_id": user["id"], "company_id": company["id"],
        "contact_ids": [ada["id"], bob["id"], ada["id"]], "expected_close_date": "2026-12-31", "source": "referral",
        "custom_fields": {"region": "emea"}})
    assert response.status_code == 201, response.text
    deal = response.json()
    assert response.headers["location"] == f"/v1/deals/{deal['id']}"
    assert response.headers["etag"] == '"1"'
    assert {k: deal[k] for k in ("title", "amount", "pipeline_id", "stage_id", "status", "owner_id", "company_id",
                                 "contact_ids", "expected_close_date", "source", "lost_reason_id", "lost_note",
                                 "won_at", "lost_at", "probability", "weighted_amount", "days_in_stage", "stale",
                                 "custom_fields", "version")} == {
        "title": "Big deal", "amount": {"amount": "12345.67", "currency": "USD"}, "pipeline_id": pipeline["id"],
        "stage_id": stages["Offer"], "status": "open", "owner_id": user["id"], "company_id": company["id"],
        "contact_ids": [ada["id"], bob["id"]], "expected_close_date": "2026-12-31", "source": "referral",
        "lost_reason_id": None, "lost_note": None, "won_at": None, "lost_at": None, "probability": 50,
        "weighted_amount": {"amount": "6172.835", "currency": "USD"}, "days_in_stage": 0, "stale": False,
        "custom_fields": {"region": "emea"}, "version": 1}
    assert deal["stage_entered_at"] == deal["created_at"]
    assert (await tenant.get(f"/v1/deals/{deal['id']}")).json() == deal


async def test_without_pipeline_or_stage_a_deal_starts_in_the_default_pipelines_first_stage(tenant):
    pipeline = await default_pipeline(tenant)
    deal = await make_deal(tenant)
    assert (deal["pipeline_id"], deal["stage_id"], deal["status"], deal["probability"]) == (
        pipeline["id"], stage_ids(pipeline)["Lead in"], "open", 10)
    other = await make_pipeline(tenant, "Other")
    in_other = await make_deal(tenant, pipeline_id=other["id"])
    assert in_other["stage_id"] == stage_ids(other)["New"]
    by_stage = await make_deal(tenant, stage_id=stage_ids(other)["Offer"])
    assert by_stage["pipeline_id"] == other["id"]


async def test_created_straight_into_won_or_lost(tenant):
    pipeline = await make_pipeline(tenant)
    stages = stage_ids(pipeline)
    won = await make_deal(tenant, stage_id=stages["Won"])
    assert (won["status"], won["won_at"] is not None, won["lost_at"]) == ("won", True, None)
    response = await tenant.post("/v1/deals", json={"title": "L", "stage_id": stages["Lost"]})
    assert_problem(response, 422)
    assert error_fields(response) == {"lost_reason_id"}
    lost = await make_deal(tenant, stage_id=stages["Lost"], lost_note="Went quiet")
    assert (lost["status"], lost["lost_note"], lost["lost_at"] is not None) == ("lost", "Went quiet", True)


async def test_amount_takes_the_tenant_currency_and_stays_exact(make_tenant):
    tenant = await make_tenant("Yen tenant", currency="JPY")
    deal = await make_deal(tenant, amount={"amount": "0.1"})
    assert deal["amount"] == {"amount": "0.10", "currency": "JPY"}
    assert deal["weighted_amount"] == {"amount": "0.01", "currency": "JPY"}
    deal = await make_deal(tenant, amount={"amount": "99999999999999.9999"})
    assert deal["amount"]["amount"] == "99999999999999.9999"
    assert deal["weighted_amount"]["amount"] == "9999999999999.99999"


@pytest.mark.parametrize(("body", "field"), [
    ({}, "title"),
    ({"title": " "}, "title"),
    ({"title": "T", "amount": {"amount": "10", "currency": "XYZ"}}, "amount.currency"),
    ({"title": "T", "amount": {"amount": "-1"}}, "amount.amount"),
    ({"title": "T", "amount": {"amount": "1.23456"}}, "amount.amount"),
    ({"title": "T", "amount": {"currency": "EUR"}}, "amount.amount"),
    ({"title": "T", "pipeline_id": "nope"}, "pipeline_id"),
    ({"title": "T", "pipeline_id": str(uuid.uuid4())}, "pipeline_id"),
    ({"title": "T", "stage_id": str(uuid.uuid4())}, "stage_id"),
    ({"title": "T", "owner_id": str(uuid.uuid4())}, "owner_id"),
    ({"title": "T", "company_id": str(uuid.uuid4())}, "company_id"),
    ({"title": "T", "contact_ids": [str(uuid.uuid4())]}, "contact_ids"),
    ({"title": "T", "expected_close_date": "31.12.2026"}, "expected_close_date"),
    ({"title": "T", "lost_reason_id": str(uuid.uuid4())}, "lost_reason_id"),
    ({"title": "T", "lost_note": "not lost"}, "lost_note"),
    ({"title": "T", "status": "won"}, "status"),
    ({"title": "T", "probability": 90}, "probability"),
    ({"title": "T", "custom_fields": {"nope": 1}}, "custom_fields.nope"),
])
async def test_bad_input_is_422_and_creates_nothing(tenant, owner_engine, body, field):
    response = await tenant.post("/v1/deals", json=body)
    assert_problem(response, 422)
    assert field in error_fields(response)
    assert (await tenant.get("/v1/deals")).json()["data"] == []
    assert not [e for e in await events_of(owner_engine, tenant.id) if e["object_type"] == "deal"]


async def test_a_stage_of_another_pipeline_is_422(tenant):
    pipeline = await make_pipeline(tenant)
    other = await default_pipeline(tenant)
    response = await tenant.post("/v1/deals", json={"title": "T", "pipeline_id": other["id"],
                                                    "stage_id": pipeline["stages"][0]["id"]})
    assert_problem(response, 422)
    assert error_fields(response) == {"stage_id"}


async def test_patch_sets_clears_and_keeps(tenant):
    contact = await created(tenant, "/v1/contacts", first_name="Ada")
    deal = await make_deal(tenant, title="T", amount={"amount": "100"}, contact_ids=[contact["id"]], source="web")
    url = f"/v1/deals/{deal['id']}"
    patched = await tenant.patch(url, json={"title": "T2", "amount": None, "expected_close_date": "2027-01-15"},
                                 headers={"If-Match": '"1"'})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["title"], body["amount"], body["weighted_amount"], body["expected_close_date"], body["source"],
            body["contact_ids"], body["version"]) == ("T2", None, None, "2027-01-15", "web", [contact["id"]], 2)
    assert_problem(await tenant.patch(url, json={"title": "T3"}, headers={"If-Match": '"1"'}), 412)
    for bad in ({"stage_id": deal["stage_id"]}, {"pipeline_id": deal["pipeline_id"]}, {"title": None},
                {"contact_ids": None}, {"lost_note": "not lost"}):
        assert_problem(await tenant.patch(url, json=bad), 422)
    assert (await tenant.get(url)).json() == body


async def test_lost_reason_and_note_can_be_corrected_on_a_lost_deal(tenant):
    pipeline = await make_pipeline(tenant)
    reason = await created(tenant, "/v1/lost-reasons", name="Price")
    deal = await make_deal(tenant, stage_id=stage_ids(pipeline)["Lost"], lost_note="?")
    url = f"/v1/deals/{deal['id']}"
    patched = (await tenant.patch(url, json={"lost_reason_id": reason["id"], "lost_note": None})).json()
    assert (patched["lost_reason_id"], patched["lost_note"]) == (reason["id"], None)
    response = await tenant.patch(url, json={"lost_reason_id": None})
    assert_problem(response, 422)
    assert error_fields(response) == {"lost_reason_id"}


async def test_delete_and_restore(tenant, owner_engine):
    deal = await make_deal(tenant)
    url = f"/v1/deals/{deal['id']}"
    assert_problem(await tenant.delete(url, headers={"If-Match": '"5"'}), 412)
    assert (await tenant.delete(url)).status_code == 204
    assert_problem(await tenant.get(url), 404)
    assert (await tenant.get("/v1/deals")).json()["data"] == []
    restored = await tenant.post(f"{url}/restore")
    assert restored.status_code == 200
    assert restored.json()["version"] == 3
    types = [e["type"] for e in await events_of(owner_engine, tenant.id) if str(e["object_id"]) == deal["id"]]
    assert types == ["deal.created", "deal.deleted", "deal.restored"]


async def test_another_tenants_deal_is_404_and_their_records_are_422(tenant, other_tenant):
    theirs = await make_deal(other_tenant)
    url = f"/v1/deals/{theirs['id']}"
    for method, path, body in [("GET", url, None), ("PATCH", url, {"title": "Mine"}), ("DELETE", url, None),
                               ("POST", f"{url}/restore", None), ("GET", f"{url}/stage-history", None),
                               ("POST", f"{url}/move", {"stage_id": theirs["stage_id"]})]:
        assert_problem(await tenant.request(method, path, json=body), 404)
    assert (await other_tenant.get(url)).json() == theirs
    company = await created(other_tenant, "/v1/companies", name="Theirs")
    contact = await created(other_tenant, "/v1/contacts", first_name="Theirs")
    for body, field in [({"company_id": company["id"]}, "company_id"),
                        ({"contact_ids": [contact["id"]]}, "contact_ids"),
                        ({"pipeline_id": theirs["pipeline_id"]}, "pipeline_id")]:
        response = await tenant.post("/v1/deals", json={"title": "T", **body})
        assert_problem(response, 422)
        assert error_fields(response) == {field}
    assert (await tenant.get("/v1/deals", params={"company_id": company["id"]})).json()["data"] == []


@pytest.mark.parametrize(("method", "path", "scope"), [
    ("GET", "/v1/deals", "deals:read"),
    ("GET", "/v1/deals/{id}", "deals:read"),
    ("GET", "/v1/deals/{id}/stage-history", "deals:read"),
    ("POST", "/v1/deals", "deals:write"),
    ("PATCH", "/v1/deals/{id}", "deals:write"),
    ("DELETE", "/v1/deals/{id}", "deals:write"),
    ("POST", "/v1/deals/{id}/restore", "deals:write"),
    ("POST", "/v1/deals/{id}/move", "deals:write"),
])
async def test_a_key_without_the_scope_is_403_and_with_it_is_let_in(tenant, method, path, scope):
    deal = await make_deal(tenant, title="Scoped")
    pipeline = await default_pipeline(tenant)
    if path.endswith("/restore"):
        await tenant.delete(f"/v1/deals/{deal['id']}")
    body = {"POST": {"title": "Other"}, "PATCH": {"title": "Renamed"}}.get(method)
    if path.endswith("/move"):
        body = {"stage_id": stage_ids(pipeline)["Demo"]}
    url = path.format(id=deal["id"])
    wrong = ["pipelines:read", "pipelines:write"] + (["deals:read"] if scope == "deals:write" else [])
    lacking = await tenant.with_scopes(*wrong)
    assert_problem(await lacking.request(method, url, json=body), 403)
    after = await tenant.get(f"/v1/deals/{deal['id']}")
    assert after.status_code == 404 if path.endswith("/restore") else after.json() == deal
    allowed = await tenant.with_scopes(scope)
    response = await allowed.request(method, url, json=body)
    assert response.status_code < 300, response.text


async def test_a_member_may_work_deals_but_not_lay_out_pipelines(tenant):
    member = await created(tenant, "/v1/users", email="m@example.com", name="M", role="member")
    keyed = await tenant.with_scopes("*", user_id=member["id"])
    assert (await keyed.post("/v1/deals", json={"title": "By member"})).status_code == 201
    assert_problem(await keyed.post("/v1/pipelines", json={"name": "By member"}), 403)
    assert_problem(await keyed.post("/v1/lost-reasons", json={"name": "By member"}), 403)
