"""Timelines: activities and the record's own changes, newest first, typed, cursor-paged."""

import uuid


async def test_a_contacts_timeline_mixes_activities_and_field_changes_in_order(tenant):
    ada = (await tenant.post("/v1/contacts", json={"first_name": "Ada", "lifecycle_stage": "lead"})).json()
    await tenant.post("/v1/activities", json={"type": "note", "body": "Met at a fair", "contact_ids": [ada["id"]]})
    await tenant.patch(f"/v1/contacts/{ada['id']}", json={"lifecycle_stage": "customer"})
    await tenant.post("/v1/activities", json={"type": "call", "direction": "outbound",
                                              "occurred_at": "2099-01-01T00:00:00Z", "contact_ids": [ada["id"]]})
    other = (await tenant.post("/v1/contacts", json={"first_name": "Other"})).json()
    await tenant.post("/v1/activities", json={"type": "note", "body": "not Ada's", "contact_ids": [other["id"]]})

    items, cursor = [], None
    while True:
        page = (await tenant.get(f"/v1/contacts/{ada['id']}/timeline",
                                 params={"limit": 2, **({"cursor": cursor} if cursor else {})})).json()
        items += page["data"]
        if not (cursor := page["next_cursor"]):
            break
    described = [(i["kind"], i["activity"]["type"] if i["activity"] else i["event"]["type"]) for i in items]
    assert described == [("activity", "call"), ("event", "contact.updated"), ("activity", "note"),
                         ("event", "contact.created")]
    change = items[1]["event"]
    assert change["data"]["previous"] == {"lifecycle_stage": "lead"}
    assert change["data"]["object"]["lifecycle_stage"] == "customer"
    assert [i["at"] for i in items] == sorted((i["at"] for i in items), reverse=True)


async def test_a_companys_timeline_includes_its_contacts_and_cases(tenant):
    acme = (await tenant.post("/v1/companies", json={"name": "Acme"})).json()
    ada = (await tenant.post("/v1/contacts", json={"first_name": "Ada", "company_id": acme["id"]})).json()
    await tenant.post("/v1/activities", json={"type": "note", "body": "About Ada", "contact_ids": [ada["id"]]})
    case = (await tenant.post("/v1/cases", json={"subject": "Broken", "contact_id": ada["id"],
                                                 "company_id": acme["id"]})).json()
    await tenant.post(f"/v1/cases/{case['id']}/messages", json={"direction": "outbound", "body": "On it"})
    items = (await tenant.get(f"/v1/companies/{acme['id']}/timeline", params={"limit": 50})).json()["data"]
    kinds = {(i["kind"], (i["activity"] or i["event"])["type"]) for i in items}
    assert {("activity", "note"), ("event", "contact.created"), ("event", "company.created"),
            ("event", "case.created"), ("event", "case_message.created")} <= kinds
    contact_items = (await tenant.get(f"/v1/contacts/{ada['id']}/timeline")).json()["data"]
    assert ("event", "case_message.created") in {(i["kind"], (i["activity"] or i["event"])["type"])
                                                 for i in contact_items}


async def test_timeline_errors(tenant, other_tenant):
    ada = (await tenant.post("/v1/contacts", json={"first_name": "Ada"})).json()
    assert (await other_tenant.get(f"/v1/contacts/{ada['id']}/timeline")).status_code == 404
    assert (await tenant.get(f"/v1/companies/{uuid.uuid4()}/timeline")).status_code == 404
    assert (await tenant.get(f"/v1/contacts/{ada['id']}/timeline", params={"cursor": "zzz"})).status_code == 422
    assert (await tenant.get(f"/v1/contacts/{ada['id']}/timeline", params={"limit": 0})).status_code == 422
    no_scope = await tenant.with_scopes("activities:read")
    assert (await no_scope.get(f"/v1/contacts/{ada['id']}/timeline")).status_code == 403
