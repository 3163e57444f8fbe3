"""Converting leads: create or link contact and company, optionally a deal; all or nothing; only once."""

import uuid

from tests.kit.rows import assert_problem, count_rows, error_fields, events_of
from tests.pipelines.helpers import created, default_pipeline, stage_ids


async def lead(tenant, **body):
    return await created(tenant, "/v1/leads", **body)


async def convert(tenant, lead_id, **body):
    response = await tenant.post(f"/v1/leads/{lead_id}/convert", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def test_convert_creates_contact_company_and_deal(tenant, owner_engine):
    owner = await created(tenant, "/v1/users", email="rep@example.com", name="Rep")
    pipeline = await default_pipeline(tenant)
    stages = stage_ids(pipeline)
    new = await lead(tenant, first_name="Grace", last_name="Hopper", email="grace@navy.example", phone="+1 555",
                     company_name="Navy", company_domain="navy.example", job_title="Admiral", source="referral",
                     owner_id=owner["id"])
    result = await convert(tenant, new["id"], deal={"amount": {"amount": "1500.5"}, "stage_id": stages["Demo"],
                                                    "expected_close_date": "2026-06-30"})
    contact, company, deal, converted = result["contact"], result["company"], result["deal"], result["lead"]
    assert (result["contact_created"], result["company_created"]) == (True, True)
    assert (contact["first_name"], contact["last_name"], contact["email"], contact["phone"], contact["job_title"],
            contact["company_id"], contact["owner_id"], contact["source"], contact["lifecycle_stage"]) == (
        "Grace", "Hopper", "grace@navy.example", "+1 555", "Admiral", company["id"], owner["id"], "referral",
        "opportunity")
    assert (company["name"], company["domain"], company["owner_id"]) == ("Navy", "navy.example", owner["id"])
    assert (deal["title"], deal["amount"], deal["pipeline_id"], deal["stage_id"], deal["company_id"],
            deal["contact_ids"], deal["owner_id"], deal["source"], deal["expected_close_date"]) == (
        "Navy", {"amount": "1500.50", "currency": "EUR"}, pipeline["id"], stages["Demo"], company["id"],
        [contact["id"]], owner["id"], "referral", "2026-06-30")
    assert (converted["status"], converted["converted_contact_id"], converted["converted_company_id"],
            converted["converted_deal_id"], converted["version"]) == (
        "converted", contact["id"], company["id"], deal["id"], 2)
    assert converted["converted_at"] is not None
    assert (await tenant.get(f"/v1/leads/{new['id']}")).json() == converted
    assert (await tenant.get(f"/v1/contacts/{contact['id']}")).json() == contact
    assert (await tenant.get(f"/v1/deals/{deal['id']}")).json()["id"] == deal["id"]
    types = [e["type"] for e in await events_of(owner_engine, tenant.id)
             if e["object_type"] in ("lead", "contact", "company", "deal")]
    assert types == ["lead.created", "company.created", "contact.created", "deal.created", "lead.converted"]
    [event] = [e for e in await events_of(owner_engine, tenant.id) if e["type"] == "lead.converted"]
    assert event["data"] == converted
    assert event["previous"]["status"] == "new"


async def test_convert_links_the_contact_by_email_and_the_company_by_name_or_domain(tenant):
    company = await created(tenant, "/v1/companies", name="Initech Inc", domain="initech.example")
    by_domain = await lead(tenant, first_name="P", email="PETER@initech.example", company_name="Initech",
                           company_domain="initech.example")
    # The person became a contact after the lead came in (a lead cannot take a contact's email).
    contact = await created(tenant, "/v1/contacts", first_name="Peter", email="peter@initech.example")
    result = await convert(tenant, by_domain["id"])
    assert (result["contact"]["id"], result["contact_created"]) == (contact["id"], False)
    assert (result["company"]["id"], result["company_created"]) == (company["id"], False)
    assert result["deal"] is None
    by_name = await lead(tenant, first_name="Milton", company_name="initech inc")
    result = await convert(tenant, by_name["id"])
    assert result["company"]["id"] == company["id"]
    assert result["contact"]["company_id"] == company["id"]
    assert result["contact_created"] is True
    assert len((await tenant.get("/v1/companies")).json()["data"]) == 1


async def test_explicit_links_and_no_company(tenant):
    company = await created(tenant, "/v1/companies", name="Chosen")
    contact = await created(tenant, "/v1/contacts", first_name="Chosen")
    new = await lead(tenant, first_name="L", email="l@example.com", company_name="Other Co")
    result = await convert(tenant, new["id"], contact_id=contact["id"], company_id=company["id"])
    assert (result["contact"]["id"], result["company"]["id"]) == (contact["id"], company["id"])
    solo = await lead(tenant, first_name="Solo", company_name="Nobody Ltd")
    result = await convert(tenant, solo["id"], create_company=False)
    assert (result["company"], result["company_created"], result["lead"]["converted_company_id"]) == (None, False, None)
    assert [c["name"] for c in (await tenant.get("/v1/companies")).json()["data"]] == ["Chosen"]


async def test_converting_twice_is_409(tenant, owner_engine):
    new = await lead(tenant, first_name="Once", email="once@example.com")
    first = await convert(tenant, new["id"])
    body = assert_problem(await tenant.post(f"/v1/leads/{new['id']}/convert", json={}), 409)
    assert body["existing_id"] == first["contact"]["id"]
    assert await count_rows(owner_engine, "contacts", tenant.id) == 1
    assert [e["type"] for e in await events_of(owner_engine, tenant.id)].count("lead.converted") == 1
    assert_problem(await tenant.patch(f"/v1/leads/{new['id']}", json={"status": "new"}), 422)


async def test_a_conversion_failing_halfway_leaves_nothing(tenant, owner_engine):
    new = await lead(tenant, first_name="Half", email="half@example.com", company_name="Halfway GmbH")
    before = await events_of(owner_engine, tenant.id)
    # Contact and company would be created first; the deal's stage does not exist.
    for body, field in [({"deal": {"stage_id": str(uuid.uuid4())}}, "stage_id"),
                        ({"deal": {"amount": {"amount": "10", "currency": "ABC"}}}, "deal.amount.currency"),
                        ({"deal": {"pipeline_id": str(uuid.uuid4())}}, "pipeline_id"),
                        ({"contact_id": str(uuid.uuid4())}, "contact_id"),
                        ({"company_id": str(uuid.uuid4())}, "company_id"),
                        ({"deal": {"title": "T", "probability": 3}}, "deal.probability")]:
        response = await tenant.post(f"/v1/leads/{new['id']}/convert", json=body)
        assert_problem(response, 422)
        assert field in error_fields(response), body
    for table in ("contacts", "companies", "deals", "deal_stage_history"):
        assert await count_rows(owner_engine, table, tenant.id) == 0, table
    assert (await tenant.get(f"/v1/leads/{new['id']}")).json() == new
    assert await events_of(owner_engine, tenant.id) == before
    # A required custom field of contacts fails the contact step after the company was made: still nothing.
    await created(tenant, "/v1/custom-fields", object_type="contact", key="vat", label="VAT", type="text",
                  required=True)
    assert_problem(await tenant.post(f"/v1/leads/{new['id']}/convert", json={}), 422)
    assert await count_rows(owner_engine, "companies", tenant.id) == 0
    assert (await tenant.get(f"/v1/leads/{new['id']}")).json()["status"] == "new"
