"""/v1/cases: numbers, the state machine, messages, satisfaction, filters, tenancy and scopes."""

import uuid

from sqlalchemy import text


async def _case(tenant, **fields):
    response = await tenant.post("/v1/cases", json={"subject": "Printer on fire", **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def test_numbers_are_readable_and_per_tenant(tenant, other_tenant):
    first, second = await _case(tenant), await _case(tenant)
    assert (first["number"], second["number"]) == ("CASE-1", "CASE-2")
    assert (await _case(other_tenant))["number"] == "CASE-1"
    assert first["status"] == "new" and first["priority"] == "normal" and first["reopened_count"] == 0


async def test_invalid_transitions_are_409_naming_the_allowed_ones(tenant):
    case = await _case(tenant)
    for status in ("open", "resolved", "closed"):
        response = await tenant.patch(f"/v1/cases/{case['id']}", json={"status": status})
        assert response.status_code == 200, response.text
    refused = await tenant.patch(f"/v1/cases/{case['id']}", json={"status": "pending"})
    assert refused.status_code == 409
    assert refused.json()["allowed_statuses"] == ["open"]
    reopened = (await tenant.patch(f"/v1/cases/{case['id']}", json={"status": "open"})).json()
    assert reopened["reopened_count"] == 1 and reopened["resolved_at"] is None and reopened["closed_at"] is None


async def test_status_timestamps_and_events(tenant, owner_engine):
    case = await _case(tenant, status="open")
    resolved = (await tenant.patch(f"/v1/cases/{case['id']}", json={"status": "resolved"})).json()
    assert resolved["resolved_at"] and resolved["closed_at"] is None
    closed = (await tenant.patch(f"/v1/cases/{case['id']}", json={"status": "closed"})).json()
    assert closed["closed_at"] and closed["resolved_at"] == resolved["resolved_at"]
    async with owner_engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT type, previous FROM events WHERE tenant_id = :t AND object_id = :o ORDER BY sequence"),
            {"t": tenant.id, "o": case["id"]})).all()
    changes = [(t, p) for t, p in rows if t == "case.status_changed"]
    assert changes == [("case.status_changed", {"status": "open"}), ("case.status_changed", {"status": "resolved"})]


async def test_the_first_public_outbound_reply_answers_the_case(tenant):
    case = await _case(tenant)
    note = await tenant.post(f"/v1/cases/{case['id']}/messages",
                             json={"direction": "outbound", "internal": True, "body": "Looking into it"})
    inbound = await tenant.post(f"/v1/cases/{case['id']}/messages", json={"direction": "inbound", "body": "Hello?"})
    assert note.status_code == inbound.status_code == 201
    assert (await tenant.get(f"/v1/cases/{case['id']}")).json()["first_response_at"] is None
    reply = (await tenant.post(f"/v1/cases/{case['id']}/messages",
                               json={"direction": "outbound", "body": "We replaced the toner"})).json()
    answered = (await tenant.get(f"/v1/cases/{case['id']}")).json()
    assert answered["first_response_at"] == reply["created_at"]
    await tenant.post(f"/v1/cases/{case['id']}/messages", json={"direction": "outbound", "body": "Anything else?"})
    assert (await tenant.get(f"/v1/cases/{case['id']}")).json()["first_response_at"] == reply["created_at"]
    listed = (await tenant.get(f"/v1/cases/{case['id']}/messages")).json()["data"]
    assert [m["body"] for m in listed] == ["Looking into it", "Hello?", "We replaced the toner", "Anything else?"]
    bad = await tenant.post(f"/v1/cases/{case['id']}/messages",
                            json={"direction": "inbound", "internal": True, "body": "x"})
    assert bad.status_code == 422


async def test_satisfaction_once_resolved_and_once_only(tenant):
    case = await _case(tenant)
    early = await tenant.post(f"/v1/cases/{case['id']}/satisfaction", json={"score": 5})
    assert early.status_code == 409
    await tenant.patch(f"/v1/cases/{case['id']}", json={"status": "resolved"})
    assert (await tenant.post(f"/v1/cases/{case['id']}/satisfaction", json={"score": 6})).status_code == 422
    recorded = await tenant.post(f"/v1/cases/{case['id']}/satisfaction", json={"score": 4, "comment": "Quick"})
    assert recorded.status_code == 200
    assert recorded.json()["satisfaction"]["score"] == 4 and recorded.json()["satisfaction"]["comment"] == "Quick"
    assert (await tenant.post(f"/v1/cases/{case['id']}/satisfaction", json={"score": 1})).status_code == 409


async def test_filters_and_search(tenant):
    contact = (await tenant.post("/v1/contacts", json={"first_name": "Cara"})).json()
    a = await _case(tenant, subject="Invoice wrong", priority="high", channel="email", contact_id=contact["id"])
    b = await _case(tenant, subject="Login broken", priority="urgent", type="problem", tags=["auth"])
    await tenant.patch(f"/v1/cases/{b['id']}", json={"status": "open"})

    async def ids(**params):
        response = await tenant.get("/v1/cases", params=params)
        assert response.status_code == 200, response.text
        return {c["id"] for c in response.json()["data"]}

    assert await ids(priority="high") == {a["id"]}
    assert await ids(status="open") == {b["id"]}
    assert await ids(channel="email", contact_id=contact["id"]) == {a["id"]}
    assert await ids(type="problem", tag="auth") == {b["id"]}
    assert await ids(q="invoice") == {a["id"]}
    assert await ids(q=b["number"]) == {b["id"]}
    assert await ids(q=b["number"].removeprefix("CASE-")) == {b["id"]}
    for bad in ({"status": "done"}, {"breached": "maybe"}, {"due_before": "soon"}, {"nope": 1}):
        assert (await tenant.get("/v1/cases", params=bad)).status_code == 422


async def test_validation_tenancy_and_scopes(tenant, other_tenant):
    case = await _case(tenant)
    for bad in ({"subject": ""}, {"subject": "x", "priority": "critical"}, {"subject": "x", "status": "closed"},
                {"subject": "x", "contact_id": str(uuid.uuid4())}, {"subject": "x", "deal_id": str(uuid.uuid4())},
                {"subject": "x", "custom_fields": {"nope": 1}}):
        response = await tenant.post("/v1/cases", json=bad)
        assert response.status_code == 422, bad
    for method, path, body in (("GET", "", None), ("PATCH", "", {"subject": "y"}), ("DELETE", "", None),
                               ("POST", "/messages", {"direction": "inbound", "body": "x"}),
                               ("GET", "/messages", None), ("POST", "/satisfaction", {"score": 3})):
        kwargs = {"json": body} if body else {}
        response = await other_tenant.request(method, f"/v1/cases/{case['id']}{path}", **kwargs)
        assert response.status_code == 404, (method, path)
    reader = await tenant.with_scopes("cases:read")
    assert (await reader.get(f"/v1/cases/{case['id']}")).status_code == 200
    assert (await reader.post("/v1/cases", json={"subject": "x"})).status_code == 403
    assert (await reader.post(f"/v1/cases/{case['id']}/messages",
                              json={"direction": "inbound", "body": "x"})).status_code == 403
    assert (await (await tenant.with_scopes("contacts:read")).get("/v1/cases")).status_code == 403
