"""/v1/activities: per-type rules, links, uniqueness of emails, tenancy and scopes."""

import uuid

NOW = "2026-11-20T10:00:00Z"


async def _log(tenant, **fields):
    response = await tenant.post("/v1/activities", json=fields)
    assert response.status_code == 201, response.text
    return response.json()


async def test_each_type_with_its_fields(tenant):
    contact = (await tenant.post("/v1/contacts", json={"first_name": "Ada"})).json()
    user = (await tenant.post("/v1/users", json={"email": "rep@ex.com", "name": "Rep"})).json()
    call = await _log(tenant, type="call", direction="outbound", occurred_at=NOW, duration_seconds=300,
                      outcome="connected", contact_ids=[contact["id"]], owner_id=user["id"])
    assert call["outcome"] == "connected" and call["contact_ids"] == [contact["id"]]
    email = await _log(tenant, type="email", direction="inbound", occurred_at=NOW, email_from="a@ex.com",
                       email_to=["b@ex.com"], message_id="<m1@ex.com>", subject="Quote")
    assert email["email_to"] == ["b@ex.com"]
    meeting = await _log(tenant, type="meeting", starts_at="2026-12-01T09:00:00Z", ends_at="2026-12-01T10:00:00Z",
                         location="Berlin", attendees=[{"type": "contact", "id": contact["id"]},
                                                       {"type": "user", "id": user["id"]}])
    assert meeting["due_at"] == meeting["starts_at"]
    task = await _log(tenant, type="task", due_at="2026-12-02T12:00:00Z", priority="high", assignee_id=user["id"])
    assert task["done"] is False and task["completed_at"] is None
    done = (await tenant.patch(f"/v1/activities/{task['id']}", json={"done": True})).json()
    assert done["done"] is True and done["completed_at"] is not None
    note = await _log(tenant, type="note", body="Prefers email")
    assert note["body"] == "Prefers email"


async def test_per_type_rules_name_the_field(tenant):
    cases = [
        ({"type": "call", "direction": "outbound"}, "occurred_at"),
        ({"type": "email", "occurred_at": NOW}, "direction"),
        ({"type": "meeting", "starts_at": "2026-12-01T10:00:00Z", "ends_at": "2026-12-01T09:00:00Z"}, "ends_at"),
        ({"type": "meeting", "starts_at": "2026-12-01T10:00:00Z"}, "ends_at"),
        ({"type": "note"}, "body"),
        ({"type": "note", "body": "x", "outcome": "busy"}, "outcome"),
        ({"type": "task", "occurred_at": NOW}, "occurred_at"),
        ({"type": "meeting", "starts_at": NOW, "ends_at": "2026-11-20T11:00:00Z", "due_at": NOW}, "due_at"),
        ({"type": "fax"}, "type"),
        ({"type": "note", "body": "x", "contact_ids": [str(uuid.uuid4())]}, "contact_ids.0"),
        ({"type": "note", "body": "x", "deal_id": str(uuid.uuid4())}, "deal_id"),
    ]
    for body, field in cases:
        response = await tenant.post("/v1/activities", json=body)
        assert response.status_code == 422, body
        assert field in [e["field"] for e in response.json()["errors"]], (body, response.json())
    call = await _log(tenant, type="call", direction="inbound", occurred_at=NOW)
    for change, field in (({"occurred_at": None}, "occurred_at"), ({"type": "note"}, "type"),
                          ({"due_at": NOW}, "due_at")):
        response = await tenant.patch(f"/v1/activities/{call['id']}", json=change)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, change


async def test_the_same_email_logged_twice_is_409(tenant, other_tenant):
    first = await _log(tenant, type="email", direction="inbound", occurred_at=NOW, message_id="<dup@ex.com>")
    again = await tenant.post("/v1/activities", json={"type": "email", "direction": "inbound", "occurred_at": NOW,
                                                      "message_id": "<dup@ex.com>"})
    assert again.status_code == 409 and again.json()["existing_id"] == first["id"]
    await _log(other_tenant, type="email", direction="inbound", occurred_at=NOW, message_id="<dup@ex.com>")


async def test_tenancy_and_scopes(tenant, other_tenant):
    note = await _log(tenant, type="note", body="secret")
    for method in ("GET", "PATCH", "DELETE"):
        kwargs = {"json": {"body": "x"}} if method == "PATCH" else {}
        assert (await other_tenant.request(method, f"/v1/activities/{note['id']}", **kwargs)).status_code == 404
    assert (await other_tenant.get("/v1/activities")).json()["data"] == []
    reader = await tenant.with_scopes("activities:read")
    assert (await reader.get(f"/v1/activities/{note['id']}")).status_code == 200
    assert (await reader.post("/v1/activities", json={"type": "note", "body": "x"})).status_code == 403
    assert (await (await tenant.with_scopes("contacts:read")).get("/v1/activities")).status_code == 403
