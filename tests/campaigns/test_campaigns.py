"""Campaigns: CRUD, money, validation, name conflicts, campaign_id on leads, contacts and deals, tenancy, scopes."""

import uuid

import pytest

from tests.kit.rows import assert_problem, error_fields
from tests.pipelines.helpers import created


async def test_create_get_update_delete(tenant):
    body = await created(tenant, "/v1/campaigns", name="Spring fair", channel="event", status="active",
                         starts_on="2026-03-01", ends_on="2026-03-31", cost={"amount": "1500.5"})
    assert {k: body[k] for k in ("name", "channel", "status", "starts_on", "ends_on", "cost", "custom_fields")} == {
        "name": "Spring fair", "channel": "event", "status": "active", "starts_on": "2026-03-01",
        "ends_on": "2026-03-31", "cost": {"amount": "1500.50", "currency": "EUR"}, "custom_fields": {}}
    url = f"/v1/campaigns/{body['id']}"
    patched = (await tenant.patch(url, json={"status": "completed", "cost": {"amount": "2000"}})).json()
    assert (patched["status"], patched["cost"], patched["version"]) == (
        "completed", {"amount": "2000.00", "currency": "EUR"}, 2)
    assert [c["id"] for c in (await tenant.get("/v1/campaigns", params={"status": "completed"})).json()["data"]] \
        == [body["id"]]
    assert (await tenant.get("/v1/campaigns", params={"channel": "email"})).json()["data"] == []
    assert (await tenant.delete(url)).status_code == 204
    assert (await tenant.get(url)).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"channel": "email"}, "name"), ({"name": "X"}, "channel"), ({"name": "X", "channel": "tv"}, "channel"),
    ({"name": "X", "channel": "email", "starts_on": "2026-02-01", "ends_on": "2026-01-01"}, "ends_on"),
    ({"name": "X", "channel": "email", "cost": {"amount": "-1"}}, "cost.amount"),
    ({"name": "X", "channel": "email", "status": "done"}, "status"),
])
async def test_bad_input_is_422(tenant, body, field):
    response = await tenant.post("/v1/campaigns", json=body)
    assert_problem(response, 422)
    assert field in error_fields(response)


async def test_names_are_unique_per_tenant(tenant, other_tenant):
    first = await created(tenant, "/v1/campaigns", name="Launch", channel="email")
    body = assert_problem(await tenant.post("/v1/campaigns", json={"name": "LAUNCH", "channel": "social"}), 409)
    assert body["existing_id"] == first["id"]
    assert (await other_tenant.post("/v1/campaigns", json={"name": "Launch", "channel": "email"})).status_code == 201


async def test_leads_contacts_and_deals_carry_a_campaign(tenant, other_tenant):
    campaign = (await created(tenant, "/v1/campaigns", name="Launch", channel="email"))["id"]
    foreign = (await created(other_tenant, "/v1/campaigns", name="Theirs", channel="email"))["id"]
    for url, body in [("/v1/leads", {"first_name": "A"}), ("/v1/contacts", {"first_name": "B"}),
                      ("/v1/deals", {"title": "C"})]:
        record = await created(tenant, url, campaign_id=campaign, **body)
        assert record["campaign_id"] == campaign
        listed = (await tenant.get(url, params={"campaign_id": campaign})).json()["data"]
        assert [r["id"] for r in listed] == [record["id"]]
        response = await tenant.post(url, json={**body, "campaign_id": foreign})
        assert_problem(response, 422)
        assert "campaign_id" in error_fields(response)
        cleared = await tenant.patch(f"{url}/{record['id']}", json={"campaign_id": None})
        assert cleared.json()["campaign_id"] is None


async def test_conversion_carries_the_lead_campaign(tenant):
    campaign = (await created(tenant, "/v1/campaigns", name="Launch", channel="email"))["id"]
    lead = await created(tenant, "/v1/leads", first_name="Ada", email="ada@example.com", campaign_id=campaign)
    result = (await tenant.post(f"/v1/leads/{lead['id']}/convert", json={"deal": {"title": "Engine"}})).json()
    assert result["contact"]["campaign_id"] == campaign
    assert result["deal"]["campaign_id"] == campaign


async def test_other_tenants_campaign_is_404_and_scopes(tenant, other_tenant):
    campaign = await created(tenant, "/v1/campaigns", name="Launch", channel="email")
    assert (await other_tenant.get(f"/v1/campaigns/{campaign['id']}")).status_code == 404
    assert (await other_tenant.patch(f"/v1/campaigns/{campaign['id']}", json={"name": "X"})).status_code == 404
    assert (await tenant.get(f"/v1/campaigns/{uuid.uuid4()}")).status_code == 404
    reader = await tenant.with_scopes("campaigns:read")
    assert (await reader.get("/v1/campaigns")).status_code == 200
    assert_problem(await reader.post("/v1/campaigns", json={"name": "Y", "channel": "email"}), 403)
    nobody = await tenant.with_scopes("leads:read")
    assert_problem(await nobody.get("/v1/campaigns"), 403)
