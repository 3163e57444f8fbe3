"""Contacts: create, read, list, PATCH semantics, If-Match, the trash and restore."""

import uuid

PROBLEM = "application/problem+json"


async def create_contact(tenant, **body):
    body = body or {"first_name": "Ada", "last_name": "Lovelace"}
    response = await tenant.post("/v1/contacts", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_answers_201_with_location_etag_and_the_record(tenant):
    response = await tenant.post("/v1/contacts", json={
        "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000",
        "job_title": "Analyst", "source": "web", "lifecycle_stage": "lead", "tags": ["vip", " vip ", "math"],
        "address": {"city": "London", "country": "gb"}, "wechat": "ada_l",
    })
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/contacts/{body['id']}"
    assert response.headers["etag"] == '"1"'
    uuid.UUID(body["id"])
    assert body["version"] == 1
    assert body["first_name"] == "Ada" and body["last_name"] == "Lovelace"
    assert body["email"] == "ada@example.com"
    assert body["phone"] == "+44 20 7946 0000"
    assert body["lifecycle_stage"] == "lead" and body["source"] == "web" and body["job_title"] == "Analyst"
    assert body["tags"] == ["vip", "math"]
    assert body["address"] == {"street": None, "city": "London", "region": None, "postal_code": None,
                               "country": "GB"}
    assert body["custom_fields"] == {}
    assert body["company_id"] is None and body["owner_id"] is None
    assert body["created_at"].endswith("Z") and body["updated_at"].endswith("Z")


async def test_get_answers_the_record_with_its_etag(tenant):
    created = await create_contact(tenant, first_name="Grace", email="grace@example.com")
    response = await tenant.get(f"/v1/contacts/{created['id']}")
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    assert response.json() == created


async def test_get_unknown_id_is_404_problem(tenant):
    response = await tenant.get(f"/v1/contacts/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["status"] == 404


async def test_get_with_a_malformed_id_is_422(tenant):
    response = await tenant.get("/v1/contacts/not-a-uuid")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_list_answers_data_and_next_cursor_newest_first(tenant):
    first = await create_contact(tenant, first_name="One")
    second = await create_contact(tenant, first_name="Two")
    response = await tenant.get("/v1/contacts")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "next_cursor"}
    assert [c["id"] for c in body["data"]] == [second["id"], first["id"]]
    assert body["next_cursor"] is None
    assert body["data"][1] == first


async def test_patch_sets_present_fields_clears_nulls_and_keeps_absent(tenant):
    created = await create_contact(tenant, first_name="Ada", last_name="Lovelace", email="ada@example.com",
                                   job_title="Analyst", phone="123456", tags=["a"])
    response = await tenant.patch(f"/v1/contacts/{created['id']}",
                                  json={"first_name": "Augusta", "job_title": None, "tags": ["b", "c"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert response.headers["etag"] == '"2"'
    assert body["version"] == 2
    assert body["first_name"] == "Augusta"
    assert body["job_title"] is None
    assert body["tags"] == ["b", "c"]
    assert body["last_name"] == "Lovelace" and body["email"] == "ada@example.com" and body["phone"] == "123456"
    assert body["updated_at"] > created["updated_at"]
    assert body["created_at"] == created["created_at"]
    fetched = (await tenant.get(f"/v1/contacts/{created['id']}")).json()
    assert fetched == body


async def test_patch_tags_null_empties_them(tenant):
    created = await create_contact(tenant, first_name="Ada", tags=["a", "b"])
    response = await tenant.patch(f"/v1/contacts/{created['id']}", json={"tags": None})
    assert response.status_code == 200, response.text
    assert response.json()["tags"] == []


async def test_patch_address_merges_per_sub_field(tenant):
    created = await create_contact(tenant, first_name="Ada", address={
        "street": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "DE"})
    response = await tenant.patch(f"/v1/contacts/{created['id']}",
                                  json={"address": {"city": "Hamburg", "postal_code": None}})
    assert response.status_code == 200, response.text
    assert response.json()["address"] == {"street": "1 Main St", "city": "Hamburg", "region": None,
                                          "postal_code": None, "country": "DE"}
    cleared = await tenant.patch(f"/v1/contacts/{created['id']}", json={"address": None})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["address"] == {"street": None, "city": None, "region": None, "postal_code": None,
                                         "country": None}


async def test_patch_custom_fields_merges_and_null_clears_a_key(tenant):
    for key, type_ in (("nickname", "text"), ("score", "number"), ("vip", "boolean")):
        response = await tenant.post("/v1/custom-fields", json={"object_type": "contact", "key": key,
                                                                 "label": key.title(), "type": type_})
        assert response.status_code == 201, response.text
    created = await create_contact(tenant, first_name="Ada",
                                   custom_fields={"nickname": "Countess", "score": 7, "vip": True})
    assert created["custom_fields"] == {"nickname": "Countess", "score": 7, "vip": True}
    response = await tenant.patch(f"/v1/contacts/{created['id']}",
                                  json={"custom_fields": {"score": 9, "nickname": None}})
    assert response.status_code == 200, response.text
    assert response.json()["custom_fields"] == {"score": 9, "vip": True}
    assert (await tenant.get(f"/v1/contacts/{created['id']}")).json()["custom_fields"] == {"score": 9, "vip": True}


async def test_patch_that_changes_nothing_keeps_the_version(tenant):
    created = await create_contact(tenant, first_name="Ada", email="ada@example.com")
    response = await tenant.patch(f"/v1/contacts/{created['id']}", json={"first_name": "Ada"})
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1
    assert response.headers["etag"] == '"1"'


async def test_patch_may_clear_a_name_while_an_email_remains(tenant):
    created = await create_contact(tenant, first_name="Ada", email="ada@example.com")
    response = await tenant.patch(f"/v1/contacts/{created['id']}", json={"first_name": None})
    assert response.status_code == 200, response.text
    assert response.json()["first_name"] is None


async def test_patch_that_would_leave_no_name_or_email_is_422_and_changes_nothing(tenant):
    created = await create_contact(tenant, first_name="Ada", email="ada@example.com")
    response = await tenant.patch(f"/v1/contacts/{created['id']}", json={"first_name": None, "email": None})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["errors"][0]["field"] == "first_name"
    assert (await tenant.get(f"/v1/contacts/{created['id']}")).json() == created


async def test_if_match_stale_version_is_412_and_changes_nothing(tenant):
    created = await create_contact(tenant, first_name="Ada")
    ok = await tenant.patch(f"/v1/contacts/{created['id']}", json={"first_name": "B"}, headers={"If-Match": '"1"'})
    assert ok.status_code == 200, ok.text
    stale = await tenant.patch(f"/v1/contacts/{created['id']}", json={"first_name": "C"},
                               headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith(PROBLEM)
    assert (await tenant.get(f"/v1/contacts/{created['id']}")).json()["first_name"] == "B"
    stale_delete = await tenant.delete(f"/v1/contacts/{created['id']}", headers={"If-Match": '"1"'})
    assert stale_delete.status_code == 412
    assert (await tenant.get(f"/v1/contacts/{created['id']}")).status_code == 200


async def test_delete_then_get_is_404_and_restore_brings_it_back(tenant):
    created = await create_contact(tenant, first_name="Ada", email="ada@example.com")
    deleted = await tenant.delete(f"/v1/contacts/{created['id']}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await tenant.get(f"/v1/contacts/{created['id']}")).status_code == 404
    assert (await tenant.patch(f"/v1/contacts/{created['id']}", json={"first_name": "X"})).status_code == 404
    assert (await tenant.delete(f"/v1/contacts/{created['id']}")).status_code == 404

    restored = await tenant.post(f"/v1/contacts/{created['id']}/restore")
    assert restored.status_code == 200, restored.text
    body = restored.json()
    assert body["version"] > created["version"]
    assert restored.headers["etag"] == f'"{body["version"]}"'
    assert body["first_name"] == "Ada" and body["email"] == "ada@example.com"
    fetched = await tenant.get(f"/v1/contacts/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == body


async def test_restore_of_a_live_or_unknown_contact_is_404(tenant):
    created = await create_contact(tenant, first_name="Ada")
    assert (await tenant.post(f"/v1/contacts/{created['id']}/restore")).status_code == 404
    assert (await tenant.post(f"/v1/contacts/{uuid.uuid4()}/restore")).status_code == 404


async def test_deleted_contact_is_absent_from_lists(tenant):
    kept = await create_contact(tenant, first_name="Kept", last_name="Zed")
    gone = await create_contact(tenant, first_name="Gone", last_name="Zed")
    assert (await tenant.delete(f"/v1/contacts/{gone['id']}")).status_code == 204
    for params in ({}, {"q": "zed"}, {"sort": "last_name"}):
        ids = [c["id"] for c in (await tenant.get("/v1/contacts", params=params)).json()["data"]]
        assert ids == [kept["id"]], params
    await tenant.post(f"/v1/contacts/{gone['id']}/restore")
    ids = {c["id"] for c in (await tenant.get("/v1/contacts")).json()["data"]}
    assert ids == {kept["id"], gone["id"]}


async def test_company_and_owner_references(tenant):
    company = (await tenant.post("/v1/companies", json={"name": "Acme"})).json()
    user = await tenant.post("/v1/users", json={"email": "owner@example.com", "name": "Owner"})
    assert user.status_code == 201, user.text
    created = await create_contact(tenant, first_name="Ada", company_id=company["id"], owner_id=user.json()["id"])
    assert created["company_id"] == company["id"]
    assert created["owner_id"] == user.json()["id"]
    cleared = await tenant.patch(f"/v1/contacts/{created['id']}", json={"company_id": None, "owner_id": None})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["company_id"] is None and cleared.json()["owner_id"] is None


async def test_a_deleted_company_cannot_be_referenced(tenant):
    company = (await tenant.post("/v1/companies", json={"name": "Acme"})).json()
    assert (await tenant.delete(f"/v1/companies/{company['id']}")).status_code == 204
    response = await tenant.post("/v1/contacts", json={"first_name": "Ada", "company_id": company["id"]})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["company_id"]
