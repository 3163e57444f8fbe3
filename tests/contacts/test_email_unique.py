"""Contact emails are unique per tenant, case-insensitively, among live contacts."""

PROBLEM = "application/problem+json"


async def create_contact(tenant, **body):
    response = await tenant.post("/v1/contacts", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def assert_duplicate(response, existing_id):
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == 409
    assert body["existing_id"] == existing_id


async def test_same_email_in_another_case_is_409_with_existing_id(tenant):
    first = await create_contact(tenant, first_name="Ada", email="Ada.Lovelace@Example.com")
    assert_duplicate(await tenant.post("/v1/contacts", json={"first_name": "Other",
                                                             "email": "ada.lovelace@example.COM"}), first["id"])
    assert_duplicate(await tenant.post("/v1/contacts", json={"email": "ada.lovelace@example.com"}), first["id"])
    data = (await tenant.get("/v1/contacts")).json()["data"]
    assert [c["id"] for c in data] == [first["id"]]


async def test_patching_an_email_that_another_contact_has_is_409(tenant):
    first = await create_contact(tenant, first_name="Ada", email="ada@example.com")
    second = await create_contact(tenant, first_name="Grace", email="grace@example.com")
    assert_duplicate(await tenant.patch(f"/v1/contacts/{second['id']}", json={"email": "ADA@example.com"}),
                     first["id"])
    assert (await tenant.get(f"/v1/contacts/{second['id']}")).json()["email"] == "grace@example.com"


async def test_patching_a_contacts_own_email_in_another_case_is_fine(tenant):
    first = await create_contact(tenant, first_name="Ada", email="ada@example.com")
    response = await tenant.patch(f"/v1/contacts/{first['id']}", json={"email": "ADA@example.com"})
    assert response.status_code == 200, response.text
    assert response.json()["email"] == "ADA@example.com"


async def test_the_same_email_in_another_tenant_is_fine(tenant, other_tenant):
    await create_contact(tenant, first_name="Ada", email="ada@example.com")
    theirs = await other_tenant.post("/v1/contacts", json={"first_name": "Ada", "email": "ada@example.com"})
    assert theirs.status_code == 201, theirs.text


async def test_many_contacts_without_email_are_fine(tenant):
    await create_contact(tenant, first_name="A")
    await create_contact(tenant, first_name="B")
    await create_contact(tenant, first_name="C", email=None)


async def test_a_deleted_contacts_email_may_be_reused(tenant):
    first = await create_contact(tenant, first_name="Ada", email="ada@example.com")
    assert (await tenant.delete(f"/v1/contacts/{first['id']}")).status_code == 204
    second = await tenant.post("/v1/contacts", json={"first_name": "New Ada", "email": "ADA@example.com"})
    assert second.status_code == 201, second.text
    dup = await tenant.get("/v1/contacts/duplicates", params={"email": "ada@example.com"})
    assert [m["contact"]["id"] for m in dup.json()["data"]] == [second.json()["id"]]


async def test_restoring_a_contact_whose_email_was_reused_is_409(tenant):
    first = await create_contact(tenant, first_name="Ada", email="ada@example.com")
    await tenant.delete(f"/v1/contacts/{first['id']}")
    second = await create_contact(tenant, first_name="New Ada", email="Ada@Example.com")
    assert_duplicate(await tenant.post(f"/v1/contacts/{first['id']}/restore"), second["id"])
    assert (await tenant.get(f"/v1/contacts/{first['id']}")).status_code == 404
    assert (await tenant.get(f"/v1/contacts/{second['id']}")).status_code == 200
