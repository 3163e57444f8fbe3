"""The board's rollup (deal_board_totals, kept by triggers) stays equal to a fresh aggregate of the deals
through every kind of write: creates, moves within and between pipelines, amount and currency changes,
trash and restore, a stage's probability changing, a stage deleted with its deals moved, concurrent writers."""

import asyncio
from decimal import Decimal

from sqlalchemy import text

from tests.pipelines.helpers import created, default_pipeline, make_deal, make_pipeline, stage_ids

ROLLUP = text("""
    SELECT pipeline_id::text, stage_id::text, currency, sum(count), sum(amount_sum), sum(weighted_sum)
    FROM deal_board_totals WHERE tenant_id = :tenant GROUP BY 1, 2, 3
    HAVING sum(count) <> 0 OR sum(amount_sum) <> 0 OR sum(weighted_sum) <> 0""")
FRESH = text("""
    SELECT pipeline_id::text, stage_id::text, coalesce(currency, ''), count(*), coalesce(sum(amount), 0),
           coalesce(sum(amount * probability / 100), 0)
    FROM deals WHERE tenant_id = :tenant AND deleted_at IS NULL GROUP BY 1, 2, 3""")


async def totals(owner_engine, tenant):
    """(rollup, fresh aggregate) of the tenant, each {(pipeline, stage, currency): (count, sum, weighted)}."""
    async with owner_engine.connect() as conn:
        result = []
        for query in (ROLLUP, FRESH):
            rows = (await conn.execute(query, {"tenant": tenant.id})).all()
            result.append({(p, s, c): (n, Decimal(a), Decimal(w)) for p, s, c, n, a, w in rows})
    return result


async def assert_exact(owner_engine, tenant):
    rollup, fresh = await totals(owner_engine, tenant)
    assert rollup == fresh
    return fresh


def money(amount, currency="EUR"):
    return {"amount": amount, "currency": currency}


async def board_summary(tenant, pipeline_id):
    board = (await tenant.get(f"/v1/pipelines/{pipeline_id}/board")).json()
    return {c["stage"]["name"]: (c["count"], c["sum"], c["weighted_sum"]) for c in board["stages"] if c["count"]}


async def test_rollup_follows_every_write(tenant, owner_engine):
    pipeline = await default_pipeline(tenant)
    s = stage_ids(pipeline)
    other = await make_pipeline(tenant, "Other")
    o = stage_ids(other)
    a = await make_deal(tenant, title="a", stage_id=s["Lead in"], amount=money("100.10"))
    b = await make_deal(tenant, title="b", stage_id=s["Lead in"], amount=money("50", "USD"))
    c = await make_deal(tenant, title="c", stage_id=s["Demo"])
    d = await make_deal(tenant, title="d", stage_id=s["Demo"], amount=money("333.33"))
    fresh = await assert_exact(owner_engine, tenant)
    assert fresh[(pipeline["id"], s["Lead in"], "EUR")] == (1, Decimal("100.10"), Decimal("10.01"))
    assert fresh[(pipeline["id"], s["Demo"], "")] == (1, 0, 0)

    # Moves within the pipeline, to a won stage, and to another pipeline.
    assert (await tenant.post(f"/v1/deals/{a['id']}/move", json={"stage_id": s["Proposal"]})).status_code == 200
    assert (await tenant.post(f"/v1/deals/{d['id']}/move", json={"stage_id": s["Won"]})).status_code == 200
    assert (await tenant.post(f"/v1/deals/{b['id']}/move", json={"stage_id": o["Offer"]})).status_code == 200
    await assert_exact(owner_engine, tenant)
    assert await board_summary(tenant, pipeline["id"]) == {
        "Proposal": (1, [money("100.10")], [money("60.06")]), "Demo": (1, [], []),
        "Won": (1, [money("333.33")], [money("333.33")])}
    assert await board_summary(tenant, other["id"]) == {"Offer": (1, [money("50.00", "USD")], [money("25.00", "USD")])}

    # Amount and currency changes, an amount given and one taken away; a change the board ignores.
    for deal, body in ((a, {"amount": money("200", "USD")}), (c, {"amount": money("10")}),
                       (d, {"amount": None}), (b, {"title": "renamed"})):
        response = await tenant.patch(f"/v1/deals/{deal['id']}", json=body)
        assert response.status_code == 200, response.text
    await assert_exact(owner_engine, tenant)
    assert await board_summary(tenant, pipeline["id"]) == {
        "Proposal": (1, [money("200.00", "USD")], [money("120.00", "USD")]),
        "Demo": (1, [money("10.00")], [money("4.00")]), "Won": (1, [], [])}

    # Trash and restore.
    assert (await tenant.delete(f"/v1/deals/{a['id']}")).status_code == 204
    fresh = await assert_exact(owner_engine, tenant)
    assert (pipeline["id"], s["Proposal"], "USD") not in fresh
    assert "Proposal" not in await board_summary(tenant, pipeline["id"])
    assert (await tenant.post(f"/v1/deals/{a['id']}/restore")).status_code == 200
    await assert_exact(owner_engine, tenant)
    assert (await board_summary(tenant, pipeline["id"]))["Proposal"] == (
        1, [money("200.00", "USD")], [money("120.00", "USD")])

    # A stage's probability changes: its deals' weighted amounts follow.
    url = f"/v1/pipelines/{pipeline['id']}/stages/{s['Demo']}"
    assert (await tenant.patch(url, json={"probability": 55})).status_code == 200
    await assert_exact(owner_engine, tenant)
    assert (await board_summary(tenant, pipeline["id"]))["Demo"] == (1, [money("10.00")], [money("5.50")])

    # A stage deleted with its deals moved to another pipeline's stage of the same kind.
    assert (await tenant.delete(url, params={"move_deals_to": o["Offer"]})).status_code == 204
    await assert_exact(owner_engine, tenant)
    assert (await board_summary(tenant, other["id"]))["Offer"] == (
        2, [money("10.00"), money("50.00", "USD")], [money("5.00"), money("25.00", "USD")])

    # A lead converted into a deal.
    lead = await created(tenant, "/v1/leads", first_name="Ada", email="ada@example.com")
    response = await tenant.post(f"/v1/leads/{lead['id']}/convert",
                                 json={"deal": {"amount": {"amount": "1500.5"}, "stage_id": s["Qualified"]}})
    assert response.status_code == 200, response.text
    await assert_exact(owner_engine, tenant)
    assert (await board_summary(tenant, pipeline["id"]))["Qualified"] == (1, [money("1500.50")], [money("300.10")])


async def test_rollup_exact_under_concurrent_writers(tenant, owner_engine):
    pipeline = await default_pipeline(tenant)
    s = stage_ids(pipeline)

    async def create(n):
        return await make_deal(tenant, title=f"deal {n}", stage_id=s["Lead in"], amount=money(f"{n}.25"))

    deals = await asyncio.gather(*(create(n) for n in range(1, 21)))
    # Moves in opposite directions at the same time: the upserts take rows in one order, so no deadlock.
    moves = [tenant.post(f"/v1/deals/{deal['id']}/move",
                         json={"stage_id": s["Demo"] if n % 2 else s["Proposal"]}) for n, deal in enumerate(deals)]
    assert {r.status_code for r in await asyncio.gather(*moves)} == {200}
    back = [tenant.post(f"/v1/deals/{deal['id']}/move",
                        json={"stage_id": s["Proposal"] if n % 2 else s["Demo"]}) for n, deal in enumerate(deals)]
    assert {r.status_code for r in await asyncio.gather(*back)} == {200}
    fresh = await assert_exact(owner_engine, tenant)
    total = sum(Decimal(f"{n}.25") for n in range(1, 21))
    assert sum(v[1] for v in fresh.values()) == total
    summary = await board_summary(tenant, pipeline["id"])
    assert summary["Demo"][0] + summary["Proposal"][0] == 20
