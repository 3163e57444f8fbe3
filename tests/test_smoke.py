"""The app starts on the test database and answers its health checks."""


async def test_readyz_reports_database_and_redis(client):
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_create_and_read_a_contact(tenant):
    created = await tenant.post("/v1/contacts", json={"first_name": "Ada", "email": "ada@example.com"})
    assert created.status_code == 201, created.text
    fetched = await tenant.get(created.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json()["email"] == "ada@example.com"
    assert fetched.headers["etag"] == '"1"'
