"""Contacts: /v1/contacts/duplicates finds likely existing matches by email, phone and name."""


async def create_contact(tenant, **body):
    response = await tenant.post("/v1/contacts", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def duplicates(tenant, **params):
    response = await tenant.get("/v1/contacts/duplicates", params=params)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"data"}
    return response.json()["data"]


async def test_by_email_case_insensitively_scores_one(tenant):
    ada = await create_contact(tenant, first_name="Ada", last_name="Lovelace", email="Ada@Example.com")
    await create_contact(tenant, first_name="Other", email="other@example.com")
    found = await duplicates(tenant, email="ada@EXAMPLE.com")
    assert len(found) == 1
    assert found[0]["contact"]["id"] == ada["id"]
    assert found[0]["contact"] == ada
    assert found[0]["score"] == 1.0
    assert found[0]["reasons"] == ["email"]


async def test_by_phone_written_differently(tenant):
    berlin = await create_contact(tenant, first_name="Hans", phone="+49 30 1234567")
    mobile = await create_contact(tenant, first_name="Klaus", mobile="(030) 123-4567")
    await create_contact(tenant, first_name="Other", phone="+49 30 7654321")
    found = await duplicates(tenant, phone="030-1234567")
    assert {m["contact"]["id"] for m in found} == {berlin["id"], mobile["id"]}
    assert all(m["reasons"] == ["phone"] for m in found)
    assert all(0 < m["score"] < 1 for m in found)
    found = await duplicates(tenant, phone="+49301234567")
    assert {m["contact"]["id"] for m in found} == {berlin["id"], mobile["id"]}


async def test_by_similar_name(tenant):
    john = await create_contact(tenant, first_name="John", last_name="Smith")
    await create_contact(tenant, first_name="Maria", last_name="Garcia")
    found = await duplicates(tenant, name="Jon Smith")
    assert [m["contact"]["id"] for m in found] == [john["id"]]
    assert found[0]["reasons"] == ["name"]
    assert 0 < found[0]["score"] < 1
    assert [m["contact"]["id"] for m in await duplicates(tenant, name="JOHN SMITH")] == [john["id"]]
    assert await duplicates(tenant, name="Wei Zhang") == []


async def test_several_reasons_rank_above_one(tenant):
    both = await create_contact(tenant, first_name="John", last_name="Smith", phone="030 1234567")
    phone_only = await create_contact(tenant, first_name="Hans", last_name="Meier", phone="+49 30 1234567")
    found = await duplicates(tenant, name="John Smith", phone="0049 30 1234567")
    assert [m["contact"]["id"] for m in found] == [both["id"], phone_only["id"]]
    assert found[0]["reasons"] == ["phone", "name"]
    assert found[1]["reasons"] == ["phone"]
    assert found[0]["score"] > found[1]["score"]


async def test_email_match_ranks_first(tenant):
    by_name = await create_contact(tenant, first_name="John", last_name="Smith")
    by_email = await create_contact(tenant, first_name="J", last_name="S", email="js@example.com")
    found = await duplicates(tenant, name="John Smith", email="JS@example.com")
    assert [m["contact"]["id"] for m in found] == [by_email["id"], by_name["id"]]
    assert found[0]["score"] == 1.0


async def test_deleted_contacts_are_not_duplicates(tenant):
    ada = await create_contact(tenant, first_name="Ada", email="ada@example.com", phone="030 1234567")
    await tenant.delete(f"/v1/contacts/{ada['id']}")
    assert await duplicates(tenant, email="ada@example.com") == []
    assert await duplicates(tenant, phone="030 1234567") == []
    assert await duplicates(tenant, name="Ada") == []


async def test_nothing_matches_nothing(tenant):
    await create_contact(tenant, first_name="Ada", email="ada@example.com", phone="030 1234567")
    assert await duplicates(tenant, email="nobody@example.com") == []
    assert await duplicates(tenant, phone="12") == []
    assert await duplicates(tenant, phone="+1 555 0100 999") == []


async def test_bad_parameters_are_422(tenant):
    for params in ({}, {"phone": "call me"}, {"limit": "5"}):
        response = await tenant.get("/v1/contacts/duplicates", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"]
