"""The read path (kit/reads.py): GET of one record on raw asyncpg connections, no transaction.

What must hold although it bypasses the unit of work: the same authentication (401, 403, revocation
at once), the same tenant isolation (a pooled connection never lends a previous request's tenant to
the next one), and the same representation as the ORM path.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from crm_api.auth.keys import new_key
from crm_api.companies.service import CompanyService
from crm_api.contacts.service import ContactService
from crm_api.deals.service import DealService
from crm_api.kit.reads import by_id_read
from crm_api.kit.rows import row_class
from crm_api.kit.uow import UnitOfWork
from crm_api.models.contact import Contact
from tests.kit.rows import api_routes, assert_problem, execute

FULL_CONTACT = {
    "first_name": "Zoë", "last_name": "Ødegaard", "email": "zoe@example.no", "phone": "+47 22 33 44 55",
    "mobile": "+47 912 34 567", "wechat": "zoe_o", "job_title": "CFO", "source": "referral",
    "lifecycle_stage": "customer", "tags": ["vip", "nordics"],
    "address": {"street": "Karl Johans gate 1", "city": "Oslo", "region": "Oslo", "postal_code": "0154",
                "country": "NO"},
}


def _read_routes(app) -> list[str]:
    return sorted(r.path for r in api_routes(app) if r.endpoint.__name__ == "read_record")


def test_the_record_resources_get_by_id_on_the_read_path(app):
    # The resources whose service has a plain get and a view: a resource dropping out of the read
    # path (or a new one joining it) shows here.
    assert _read_routes(app) == [
        "/v1/activities/{record_id}", "/v1/campaigns/{record_id}", "/v1/cases/{record_id}",
        "/v1/companies/{record_id}", "/v1/contacts/{record_id}", "/v1/custom-fields/{record_id}",
        "/v1/deals/{record_id}", "/v1/leads/{record_id}", "/v1/lost-reasons/{record_id}",
        "/v1/sla-policies/{record_id}", "/v1/users/{record_id}", "/v1/webhook-endpoints/{record_id}",
    ]


async def _orm_representation(app, tenant_id: uuid.UUID, service, record_id: str) -> dict:
    async with UnitOfWork(app.state.sessionmaker) as uow:
        await uow.set_tenant(tenant_id)
        return (await service(uow).get(uuid.UUID(record_id))).model_dump(mode="json")


async def test_a_contact_reads_as_the_unit_of_work_represents_it(app, tenant):
    company = (await tenant.post("/v1/companies", json={"name": "Fjord AS"})).json()
    await tenant.post("/v1/custom-fields", json={"object_type": "contact", "key": "tier", "label": "Tier",
                                                 "type": "number"})
    created = await tenant.post("/v1/contacts", json={**FULL_CONTACT, "company_id": company["id"],
                                                      "custom_fields": {"tier": 2}})
    assert created.status_code == 201, created.text
    response = await tenant.get(f"/v1/contacts/{created.json()['id']}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert response.headers["etag"] == f'"{body["version"]}"'
    assert body == await _orm_representation(app, tenant.id, ContactService, body["id"])
    assert body["address"]["country"] == "NO" and body["custom_fields"] == {"tier": 2}
    assert body["tags"] == ["vip", "nordics"] and body["company_id"] == company["id"]


async def test_money_and_dates_read_as_the_unit_of_work_represents_them(app, tenant):
    company = await tenant.post("/v1/companies", json={
        "name": "Numeric GmbH", "annual_revenue": {"amount": "1234567.89", "currency": "EUR"},
        "employee_count": 42, "address": {"city": "Köln", "country": "DE"}})
    assert company.status_code == 201, company.text
    body = (await tenant.get(f"/v1/companies/{company.json()['id']}")).json()
    assert body == await _orm_representation(app, tenant.id, CompanyService, body["id"])
    assert Decimal(body["annual_revenue"]["amount"]) == Decimal("1234567.89")

    deal = await tenant.post("/v1/deals", json={"title": "Renewal", "amount": {"amount": "99.50", "currency": "EUR"},
                                                "expected_close_date": "2027-03-31"})
    assert deal.status_code == 201, deal.text
    body = (await tenant.get(f"/v1/deals/{deal.json()['id']}")).json()
    assert body == await _orm_representation(app, tenant.id, DealService, body["id"])


def test_row_objects_carry_the_models_properties_and_no_orm_state():
    cls = row_class(Contact)
    row = cls()
    row.__dict__.update(address_street="S", address_city="C", address_region=None, address_postal_code="1",
                        address_country="DE")
    assert row.address == {"street": "S", "city": "C", "region": None, "postal_code": "1", "country": "DE"}
    assert not hasattr(row, "_sa_instance_state")
    # Deferred columns (search and lookup keys) are not read; the ORM does not load them either.
    sql = by_id_read(Contact).sql
    assert "contacts.first_name AS first_name" in sql and "email_key" not in sql and "search_text" not in sql


@pytest.mark.parametrize("authorization", [None, "Bearer", "Token crm_abc", "Bearer not-a-crm-key"])
async def test_missing_or_malformed_credentials_are_401(client, tenant, authorization):
    contact = (await tenant.post("/v1/contacts", json={"first_name": "Ann"})).json()
    headers = {} if authorization is None else {"Authorization": authorization}
    assert_problem(await client.get(f"/v1/contacts/{contact['id']}", headers=headers), 401)
    unknown = {"Authorization": f"Bearer {new_key()}"}
    assert_problem(await client.get(f"/v1/contacts/{contact['id']}", headers=unknown), 401)


async def test_a_revoked_key_is_401_at_once_and_a_deleted_users_key_too(tenant, owner_engine):
    contact = (await tenant.post("/v1/contacts", json={"first_name": "Ann"})).json()
    key = (await tenant.post("/v1/api-keys", json={"name": "r", "scopes": ["contacts:read"]})).json()
    headers = {"Authorization": f"Bearer {key['api_key']}"}
    assert (await tenant.client.get(f"/v1/contacts/{contact['id']}", headers=headers)).status_code == 200
    assert (await tenant.delete(f"/v1/api-keys/{key['id']}")).status_code == 204
    assert_problem(await tenant.client.get(f"/v1/contacts/{contact['id']}", headers=headers), 401)

    user = (await tenant.post("/v1/users", json={"email": "gone@example.com", "name": "Gone",
                                                 "role": "member"})).json()
    reader = await tenant.with_scopes("contacts:read", user_id=user["id"])
    assert (await reader.get(f"/v1/contacts/{contact['id']}")).status_code == 200
    await execute(owner_engine, "UPDATE users SET deleted_at = now() WHERE id = :u", u=uuid.UUID(user["id"]))
    assert_problem(await reader.get(f"/v1/contacts/{contact['id']}"), 401)


async def test_a_key_without_the_scope_is_403(tenant):
    contact = (await tenant.post("/v1/contacts", json={"first_name": "Ann"})).json()
    companies_only = await tenant.with_scopes("companies:read")
    body = assert_problem(await companies_only.get(f"/v1/contacts/{contact['id']}"), 403)
    assert "contacts:read" in body["detail"]


async def test_pooled_connections_never_lend_a_tenant_to_the_next_request(app, tenant, other_tenant):
    mine = (await tenant.post("/v1/contacts", json={"first_name": "Mine"})).json()["id"]
    theirs = (await other_tenant.post("/v1/contacts", json={"first_name": "Theirs"})).json()["id"]
    # Interleaved on the same few pooled connections: each request sees its own tenant only.
    for _ in range(5):
        assert (await tenant.get(f"/v1/contacts/{mine}")).status_code == 200
        assert_problem(await other_tenant.get(f"/v1/contacts/{mine}"), 404)
        assert (await other_tenant.get(f"/v1/contacts/{theirs}")).status_code == 200
        assert_problem(await tenant.get(f"/v1/contacts/{theirs}"), 404)
        # A failed authentication between them reads nothing with the tenant left on its connection.
        assert_problem(await tenant.client.get(f"/v1/contacts/{theirs}",
                                               headers={"Authorization": f"Bearer {new_key()}"}), 401)


async def test_a_stale_tenant_on_a_connection_can_only_hide_rows(app, tenant, other_tenant):
    # Defence in depth: the by-id SELECT names its tenant as well as row-level security, so a session
    # left with another tenant's setting finds nothing rather than that tenant's record.
    theirs = uuid.UUID((await other_tenant.post("/v1/contacts", json={"first_name": "Theirs"})).json()["id"])
    sql = by_id_read(Contact).sql
    async with app.state.reads._pool.acquire() as connection:
        # The session holds the record's tenant, the request is another tenant's: the SELECT's own
        # tenant condition hides the row.
        await connection.execute("SELECT set_config('app.tenant_id', $1, false)", str(other_tenant.id))
        assert await connection.fetchrow(sql, tenant.id, theirs) is None
        assert (await connection.fetchrow(sql, other_tenant.id, theirs))["first_name"] == "Theirs"
        # The other way round, row-level security hides it.
        await connection.execute("SELECT set_config('app.tenant_id', $1, false)", str(tenant.id))
        assert await connection.fetchrow(sql, other_tenant.id, theirs) is None


async def test_a_trashed_record_is_404(tenant):
    contact = (await tenant.post("/v1/contacts", json={"first_name": "Ann"})).json()
    assert (await tenant.delete(f"/v1/contacts/{contact['id']}")).status_code == 204
    assert_problem(await tenant.get(f"/v1/contacts/{contact['id']}"), 404)
    assert_problem(await tenant.get("/v1/contacts/not-a-uuid"), 422)


async def test_the_read_session_runs_core_and_entity_selects_on_asyncpg(app, tenant, other_tenant):
    from sqlalchemy import bindparam, func, select

    from crm_api.kit.reads import ReadSession

    ids = [uuid.UUID((await tenant.post("/v1/contacts", json={"first_name": n, "tags": ["t"]})).json()["id"])
           for n in ("Ann", "Bob", "Cy")]
    theirs = uuid.UUID((await other_tenant.post("/v1/contacts", json={"first_name": "Dee"})).json()["id"])
    async with app.state.reads._pool.acquire() as connection:
        await connection.execute("SELECT set_config('app.tenant_id', $1, false)", str(tenant.id))
        session = ReadSession(connection)
        # A whole entity: plain records of its loaded columns, processed as the ORM would.
        contacts = (await session.execute(select(Contact).where(Contact.id.in_([*ids, theirs]))
                                           .order_by(Contact.first_name))).scalars().all()
        assert [c.first_name for c in contacts] == ["Ann", "Bob", "Cy"]  # row-level security hides Dee
        assert contacts[0].tags == ["t"] and contacts[0].address["country"] is None
        assert not hasattr(contacts[0], "_sa_instance_state")
        # An entity and another column; the same statement shape again with other values (cached SQL).
        for name in ("Bob", "Cy"):
            row = (await session.execute(select(Contact, func.length(Contact.first_name))
                                         .where(Contact.first_name == name))).one()
            assert (row[0].first_name, row[1]) == (name, len(name))
        # Core columns with bound parameters, rows by name and attribute, scalars and mappings.
        stmt = select(Contact.first_name).where(Contact.id == bindparam("id"))
        assert (await session.execute(stmt, {"id": ids[1]})).scalar_one() == "Bob"
        assert (await session.execute(stmt, {"id": theirs})).scalar_one_or_none() is None
        named = (await session.execute(select(Contact.first_name.label("name")).where(Contact.id == ids[2]))).one()
        assert named.name == named["name"] == named[0] == "Cy"
        assert (await session.execute(select(Contact.first_name).where(Contact.id == ids[0]))).mappings().all() == [
            {"first_name": "Ann"}]
        with pytest.raises(NotImplementedError):
            await session.execute(select(Contact, Contact).where(Contact.id == ids[0]))


async def test_lists_on_the_read_path_answer_like_the_unit_of_work(app, tenant):
    from crm_api.contacts.schemas import ContactListParams

    for n in range(3):
        await tenant.post("/v1/contacts", json={**FULL_CONTACT, "email": f"z{n}@example.no", "tags": [f"t{n}", "x"]})
    for query in ("limit=2", "tag=x&limit=5", "country=NO&lifecycle_stage=customer", "q=Zoë"):
        response = await tenant.get(f"/v1/contacts?{query}")
        assert response.status_code == 200, response.text
        params = ContactListParams.model_validate(dict(p.split("=") for p in query.split("&")))
        async with UnitOfWork(app.state.sessionmaker) as uow:
            await uow.set_tenant(tenant.id)
            data, cursor = await ContactService(uow).list(params, dict(p.split("=") for p in query.split("&")))
        assert response.json() == {"data": [d.model_dump(mode="json") for d in data], "next_cursor": cursor}
        assert response.json()["data"], query


async def test_read_connections_refuse_writes(app, tenant):
    import asyncpg
    from sqlalchemy import update

    from crm_api.kit.reads import ReadSession

    contact = uuid.UUID((await tenant.post("/v1/contacts", json={"first_name": "Ann"})).json()["id"])
    async with app.state.reads._pool.acquire() as connection:
        await connection.execute("SELECT set_config('app.tenant_id', $1, false)", str(tenant.id))
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await ReadSession(connection).execute(update(Contact).where(Contact.id == contact).values(first_name="X"))
    assert (await tenant.get(f"/v1/contacts/{contact}")).json()["first_name"] == "Ann"


async def test_a_reusable_statement_compiles_once_and_binds_each_executions_values(app, tenant):
    from sqlalchemy import bindparam, select

    from crm_api.kit import reads
    from crm_api.kit.rows import REUSABLE

    ann, bob = [uuid.UUID((await tenant.post("/v1/contacts", json={"first_name": n})).json()["id"])
                for n in ("Ann", "Bob")]
    stmt = select(Contact).where(Contact.id == bindparam("id")).execution_options(**REUSABLE)
    async with app.state.reads._pool.acquire() as connection:
        await connection.execute("SELECT set_config('app.tenant_id', $1, false)", str(tenant.id))
        session = reads.ReadSession(connection)
        assert (await session.execute(stmt, {"id": ann})).scalar_one().first_name == "Ann"
        prepared = reads._REUSED[id(stmt)][1]
        assert (await session.execute(stmt, {"id": bob})).scalar_one().first_name == "Bob"
        assert reads._REUSED[id(stmt)][1] is prepared  # the same compiled statement, other values
