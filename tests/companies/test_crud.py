"""Companies: create, read, list, PATCH semantics, If-Match, the trash and restore."""

import uuid

PROBLEM = "application/problem+json"
EMPTY_ADDRESS = {"street": None, "city": None, "region": None, "postal_code": None, "country": None}


async def create_company(tenant, **body):
    body = body or {"name": "Acme"}
    response = await tenant.post("/v1/companies", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_answers_201_with_location_etag_and_the_record(tenant):
    owner = (await tenant.post("/v1/users", json={"email": "o@example.com", "name": "Owner"})).json()
    response = await tenant.post("/v1/companies", json={
        "name": "  Acme Rockets ", "domain": "Acme.Example", "industry": "Aerospace", "employee_count": 120,
        "relationship": "customer", "phone": "+1 555 0100", "website": "https://acme.example/about",
        "owner_id": owner["id"], "tags": ["key", "key", "space"],
        "address": {"street": "1 Launch Rd", "city": "Houston", "region": "TX", "postal_code": "77001",
                    "country": "us"},
    })
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/companies/{body['id']}"
    assert response.headers["etag"] == '"1"'
    uuid.UUID(body["id"])
    assert body["version"] == 1
    assert body["name"] == "Acme Rockets"
    assert body["domain"] == "acme.example"
    assert body["industry"] == "Aerospace" and body["employee_count"] == 120
    assert body["relationship"] == "customer"
    assert body["phone"] == "+1 555 0100" and body["website"] == "https://acme.example/about"
    assert body["owner_id"] == owner["id"]
    assert body["tags"] == ["key", "space"]
    assert body["address"] == {"street": "1 Launch Rd", "city": "Houston", "region": "TX", "postal_code": "77001",
                               "country": "US"}
    assert body["annual_revenue"] is None
    assert body["custom_fields"] == {}


async def test_a_minimal_company(tenant):
    body = await create_company(tenant, name="Solo")
    assert body["address"] == EMPTY_ADDRESS
    assert body["tags"] == [] and body["domain"] is None and body["owner_id"] is None


async def test_get_answers_the_record_with_its_etag(tenant):
    created = await create_company(tenant, name="Acme", domain="acme.example")
    response = await tenant.get(f"/v1/companies/{created['id']}")
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    assert response.json() == created


async def test_get_unknown_is_404_problem(tenant):
    response = await tenant.get(f"/v1/companies/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_list_answers_data_and_next_cursor_newest_first(tenant):
    first = await create_company(tenant, name="One")
    second = await create_company(tenant, name="Two")
    response = await tenant.get("/v1/companies")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "next_cursor"}
    assert [c["id"] for c in body["data"]] == [second["id"], first["id"]]
    assert body["next_cursor"] is None
    assert body["data"][1] == first


async def test_patch_sets_present_fields_clears_nulls_and_keeps_absent(tenant):
    created = await create_company(tenant, name="Acme", domain="acme.example", industry="Rockets",
                                   employee_count=10, relationship="prospect", tags=["a"])
    response = await tenant.patch(f"/v1/companies/{created['id']}",
                                  json={"name": "Acme Inc", "industry": None, "relationship": "customer"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert response.headers["etag"] == '"2"' and body["version"] == 2
    assert body["name"] == "Acme Inc" and body["industry"] is None and body["relationship"] == "customer"
    assert body["domain"] == "acme.example" and body["employee_count"] == 10 and body["tags"] == ["a"]
    assert body["updated_at"] > created["updated_at"]
    assert (await tenant.get(f"/v1/companies/{created['id']}")).json() == body


async def test_patch_name_null_or_empty_is_422_and_changes_nothing(tenant):
    created = await create_company(tenant, name="Acme")
    for body in ({"name": None}, {"name": "   "}):
        response = await tenant.patch(f"/v1/companies/{created['id']}", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"].startswith(PROBLEM)
        assert [e["field"] for e in response.json()["errors"]] == ["name"]
    assert (await tenant.get(f"/v1/companies/{created['id']}")).json() == created


async def test_patch_address_merges_per_sub_field(tenant):
    created = await create_company(tenant, name="Acme", address={"street": "1 Main", "city": "Berlin",
                                                                  "country": "DE"})
    response = await tenant.patch(f"/v1/companies/{created['id']}",
                                  json={"address": {"city": "Munich", "street": None, "region": "BY"}})
    assert response.status_code == 200, response.text
    assert response.json()["address"] == {"street": None, "city": "Munich", "region": "BY", "postal_code": None,
                                          "country": "DE"}
    cleared = await tenant.patch(f"/v1/companies/{created['id']}", json={"address": None})
    assert cleared.json()["address"] == EMPTY_ADDRESS


async def test_patch_custom_fields_merges_and_null_clears_a_key(tenant):
    for key, type_ in (("tier", "text"), ("seats", "number")):
        response = await tenant.post("/v1/custom-fields", json={"object_type": "company", "key": key, "label": key,
                                                                 "type": type_})
        assert response.status_code == 201, response.text
    created = await create_company(tenant, name="Acme", custom_fields={"tier": "gold", "seats": 10})
    response = await tenant.patch(f"/v1/companies/{created['id']}",
                                  json={"custom_fields": {"tier": None, "seats": 12}})
    assert response.status_code == 200, response.text
    assert response.json()["custom_fields"] == {"seats": 12}


async def test_patch_that_changes_nothing_keeps_the_version(tenant):
    created = await create_company(tenant, name="Acme", tags=["x"])
    response = await tenant.patch(f"/v1/companies/{created['id']}", json={"name": "Acme", "tags": ["x"]})
    assert response.status_code == 200
    assert response.json()["version"] == 1


async def test_if_match_stale_version_is_412(tenant):
    created = await create_company(tenant, name="Acme")
    assert (await tenant.patch(f"/v1/companies/{created['id']}", json={"name": "B"},
                               headers={"If-Match": '"1"'})).status_code == 200
    stale = await tenant.patch(f"/v1/companies/{created['id']}", json={"name": "C"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert (await tenant.get(f"/v1/companies/{created['id']}")).json()["name"] == "B"


async def test_delete_then_get_is_404_and_restore_brings_it_back(tenant):
    created = await create_company(tenant, name="Acme")
    deleted = await tenant.delete(f"/v1/companies/{created['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await tenant.get(f"/v1/companies/{created['id']}")).status_code == 404
    assert (await tenant.patch(f"/v1/companies/{created['id']}", json={"name": "X"})).status_code == 404
    assert (await tenant.delete(f"/v1/companies/{created['id']}")).status_code == 404
    assert (await tenant.get("/v1/companies")).json()["data"] == []
    restored = await tenant.post(f"/v1/companies/{created['id']}/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["version"] > created["version"]
    assert restored.headers["etag"] == f'"{restored.json()["version"]}"'
    assert restored.json()["name"] == "Acme"
    assert [c["id"] for c in (await tenant.get("/v1/companies")).json()["data"]] == [created["id"]]
    assert (await tenant.post(f"/v1/companies/{created['id']}/restore")).status_code == 404


async def test_deleting_a_company_keeps_its_contacts(tenant):
    company = await create_company(tenant, name="Acme")
    contact = (await tenant.post("/v1/contacts", json={"first_name": "Ada", "company_id": company["id"]})).json()
    await tenant.delete(f"/v1/companies/{company['id']}")
    assert (await tenant.get(f"/v1/contacts/{contact['id']}")).status_code == 200
    await tenant.post(f"/v1/companies/{company['id']}/restore")
    listed = (await tenant.get(f"/v1/companies/{company['id']}/contacts")).json()["data"]
    assert [c["id"] for c in listed] == [contact["id"]]
