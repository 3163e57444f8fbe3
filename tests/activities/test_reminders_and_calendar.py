"""Reminders fire once across worker runs; calendar feeds parse back and rotate."""

from datetime import UTC, datetime, timedelta

from icalendar import Calendar
from sqlalchemy import text

from crm_api.activities.jobs import remind_tenant


async def test_a_reminder_is_emitted_once_across_two_worker_runs(tenant, app, settings, owner_engine):
    ctx = {"sessionmaker": app.state.sessionmaker, "settings": settings, "redis": app.state.arq}
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    due = (await tenant.post("/v1/activities", json={"type": "note", "body": "Call back", "remind_at": past})).json()
    await tenant.post("/v1/activities", json={"type": "note", "body": "Later", "remind_at": future})
    assert await remind_tenant(ctx, tenant.id) == 1
    assert await remind_tenant(ctx, tenant.id) == 0  # a restarted worker finds nothing to repeat
    # Moving remind_at arms it again.
    await tenant.patch(f"/v1/activities/{due['id']}", json={"remind_at": past.replace("+00:00", "Z")[:-4] + "Z"})
    assert await remind_tenant(ctx, tenant.id) == 1
    async with owner_engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM events WHERE tenant_id = :t "
                                         "AND type = 'activity.reminder_due'"), {"t": tenant.id})).scalar_one()
    assert count == 2


async def test_the_calendar_feed_lists_meetings_and_open_tasks(tenant, client):
    user = (await tenant.post("/v1/users", json={"email": "cal@ex.com", "name": "Cal",
                                                 "time_zone": "Europe/Berlin"})).json()
    meeting = (await tenant.post("/v1/activities", json={
        "type": "meeting", "subject": "Demo", "starts_at": "2099-03-01T09:00:00Z", "ends_at": "2099-03-01T10:00:00Z",
        "location": "Online", "attendees": [{"type": "user", "id": user["id"]}]})).json()
    task = (await tenant.post("/v1/activities", json={
        "type": "task", "subject": "Send quote", "due_at": "2099-03-02T12:00:00Z", "assignee_id": user["id"]})).json()
    done = (await tenant.post("/v1/activities", json={"type": "task", "subject": "Old", "assignee_id": user["id"],
                                                      "done": True})).json()
    await tenant.post("/v1/activities", json={"type": "task", "subject": "Someone else's"})

    rotated = await tenant.post(f"/v1/users/{user['id']}/calendar-feed/rotate")
    assert rotated.status_code == 200
    url = rotated.json()["url"]
    response = await client.get(url)  # no credentials: the URL is the secret
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = {str(c["UID"]): c for c in calendar.walk("VEVENT")}
    todos = {str(c["UID"]): c for c in calendar.walk("VTODO")}
    assert set(events) == {f"{meeting['id']}@crm-api"} and set(todos) == {f"{task['id']}@crm-api"}
    event = events[f"{meeting['id']}@crm-api"]
    assert event.decoded("DTSTART") == datetime(2099, 3, 1, 9, 0, tzinfo=UTC)
    assert str(event["SUMMARY"]) == "Demo" and str(event["LOCATION"]) == "Online"
    assert todos[f"{task['id']}@crm-api"].decoded("DUE") == datetime(2099, 3, 2, 12, 0, tzinfo=UTC)
    assert f"{done['id']}@crm-api" not in todos
    again = Calendar.from_ical((await client.get(url)).content)
    assert {str(c["UID"]) for c in again.walk("VEVENT")} == set(events)  # stable UIDs

    new_url = (await tenant.post(f"/v1/users/{user['id']}/calendar-feed/rotate")).json()["url"]
    assert (await client.get(url)).status_code == 404
    assert (await client.get(new_url)).status_code == 200


async def test_only_the_user_or_an_admin_rotates_a_feed(tenant, other_tenant):
    user = (await tenant.post("/v1/users", json={"email": "u@ex.com", "name": "U"})).json()
    reader = await tenant.with_scopes("activities:read")
    assert (await reader.post(f"/v1/users/{user['id']}/calendar-feed/rotate")).status_code == 403
    assert (await other_tenant.post(f"/v1/users/{user['id']}/calendar-feed/rotate")).status_code == 404
