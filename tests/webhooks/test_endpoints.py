"""/v1/webhook-endpoints: registration, secrets, SSRF checks, scopes and tenancy."""

from sqlalchemy import text

from tests.webhooks.conftest import make_endpoint


async def test_create_shows_the_secret_once_and_stores_it_encrypted(tenant, receiver, owner_engine):
    created = await make_endpoint(tenant, receiver.url, event_types=["contact.*"], description="CRM sync")
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["contact.*"] and created["enabled"] is True
    fetched = (await tenant.get(f"/v1/webhook-endpoints/{created['id']}")).json()
    assert "secret" not in fetched
    listed = (await tenant.get("/v1/webhook-endpoints")).json()["data"]
    assert [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]
    async with owner_engine.connect() as conn:
        stored = (await conn.execute(text("SELECT secret_encrypted FROM webhook_endpoints WHERE id = :i"),
                                     {"i": created["id"]})).scalar_one()
    assert created["secret"].encode() not in bytes(stored)
    assert created["secret"].removeprefix("whsec_").encode() not in bytes(stored)


async def test_urls_that_reach_private_networks_are_refused(tenant, app, settings):
    strict = settings.model_copy(update={"webhook_allow_hosts": "", "webhook_allow_http": False})
    app.state.settings = strict
    try:
        for url in ("https://127.0.0.1/hook", "https://10.0.0.8/x", "https://169.254.169.254/latest",
                    "https://[::1]/x", "https://100.64.0.1/x", "https://[fd00::1]/x", "https://[::ffff:127.0.0.1]/x",
                    "https://localhost/x", "http://203.0.113.9/x", "ftp://example.com/x", "https://u:p@example.com/"):
            response = await tenant.post("/v1/webhook-endpoints", json={"url": url})
            assert response.status_code == 422, url
            assert response.json()["errors"][0]["field"] == "url"
    finally:
        app.state.settings = settings


async def test_rotate_secret_returns_a_new_secret(tenant, receiver):
    created = await make_endpoint(tenant, receiver.url)
    rotated = await tenant.post(f"/v1/webhook-endpoints/{created['id']}/rotate-secret")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != created["secret"]
    assert rotated.json()["previous_secret_expires_at"]


async def test_validation_scopes_and_tenancy(tenant, other_tenant, receiver):
    created = await make_endpoint(tenant, receiver.url)
    for bad in ({"url": receiver.url, "event_types": ["Deal.Won"]}, {"url": receiver.url, "event_types": []},
                {"url": receiver.url, "bogus": 1}, {}):
        assert (await tenant.post("/v1/webhook-endpoints", json=bad)).status_code == 422, bad
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/rotate-secret"),
                         ("GET", "/deliveries"), ("POST", "/test")):
        kwargs = {"json": {"enabled": False}} if method == "PATCH" else {}
        response = await other_tenant.request(method, f"/v1/webhook-endpoints/{created['id']}{path}", **kwargs)
        assert response.status_code == 404, (method, path)
    reader = await tenant.with_scopes("webhooks:read")
    assert (await reader.get("/v1/webhook-endpoints")).status_code == 200
    assert (await reader.post("/v1/webhook-endpoints", json={"url": receiver.url})).status_code == 403
    admin = await tenant.with_scopes("admin")
    assert (await admin.post("/v1/webhook-endpoints", json={"url": receiver.url})).status_code == 201
    contacts_only = await tenant.with_scopes("contacts:read")
    assert (await contacts_only.get("/v1/webhook-endpoints")).status_code == 403


async def test_send_test_event(tenant, receiver):
    created = await make_endpoint(tenant, receiver.url)
    result = await tenant.post(f"/v1/webhook-endpoints/{created['id']}/test")
    assert result.status_code == 200, result.text
    assert result.json()["status"] == "succeeded" and result.json()["response_status"] == 200
    (request,) = await receiver.wait_for(1)
    assert b'"type":"webhook.test"' in request.body
    deliveries = (await tenant.get(f"/v1/webhook-endpoints/{created['id']}/deliveries")).json()["data"]
    assert [d["event_type"] for d in deliveries] == ["webhook.test"]
