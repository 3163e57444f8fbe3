"""The open-deals rollup (deal_open_totals, kept by triggers) stays equal to a fresh aggregate of the open deals
through every kind of write the KPI dimensions see: owner, source, campaign, amount and currency changes,
moves to won and lost and back, trash and restore, a stage's probability, no owner, concurrent writers;
and /v1/kpis/sales answers its snapshot from it."""

import asyncio
from decimal import Decimal

from sqlalchemy import text

from tests.pipelines.helpers import created, default_pipeline, make_deal, stage_ids

KEY = "pipeline_id::text, owner_id::text, source, campaign_id::text"
ROLLUP = text(f"""
    SELECT {KEY}, currency, sum(count), sum(amount_sum), sum(weighted_sum) FROM deal_open_totals
    WHERE tenant_id = :tenant GROUP BY 1, 2, 3, 4, 5
    HAVING sum(count) <> 0 OR sum(amount_sum) <> 0 OR sum(weighted_sum) <> 0""")
FRESH = text(f"""
    SELECT {KEY}, coalesce(currency, ''), count(*), coalesce(sum(amount), 0),
           coalesce(sum(amount * probability / 100), 0)
    FROM deals WHERE tenant_id = :tenant AND deleted_at IS NULL AND status = 'open' GROUP BY 1, 2, 3, 4, 5""")


async def assert_exact(owner_engine, tenant):
    async with owner_engine.connect() as conn:
        rollup, fresh = [{tuple(r[:5]): (r[5], Decimal(r[6]), Decimal(r[7]))
                          for r in (await conn.execute(q, {"tenant": tenant.id})).all()} for q in (ROLLUP, FRESH)]
    assert rollup == fresh
    return fresh


def money(amount, currency="EUR"):
    return {"amount": amount, "currency": currency}


async def snapshot(tenant, **params):
    response = await tenant.get("/v1/kpis/sales", params={"from": "2026-01-01", "to": "2026-01-31", **params})
    assert response.status_code == 200, response.text
    return response.json()


async def test_rollup_follows_every_write(tenant, owner_engine):
    s = stage_ids(await default_pipeline(tenant))
    ann = (await created(tenant, "/v1/users", email="ann@example.com", name="Ann"))["id"]
    ben = (await created(tenant, "/v1/users", email="ben@example.com", name="Ben"))["id"]
    spring = (await created(tenant, "/v1/campaigns", name="Spring", channel="email"))["id"]
    a = await make_deal(tenant, title="a", stage_id=s["Lead in"], amount=money("100.10"), owner_id=ann,
                        source="web", campaign_id=spring)
    b = await make_deal(tenant, title="b", stage_id=s["Demo"], amount=money("50", "USD"), owner_id=ben)
    c = await make_deal(tenant, title="c", stage_id=s["Demo"], owner_id=ann)
    fresh = await assert_exact(owner_engine, tenant)
    assert len(fresh) == 3

    by_owner = {g["key"]: g["metrics"] for g in (await snapshot(tenant, group_by="owner"))["groups"]}
    assert (by_owner[ann]["open_deals"], by_owner[ann]["open_pipeline_value"],
            by_owner[ann]["weighted_pipeline_value"]) == (2, [money("100.10")], [money("10.01")])
    assert (by_owner[ben]["open_deals"], by_owner[ben]["weighted_pipeline_value"]) == (
        1, [money("20.00", "USD")])
    groups = (await snapshot(tenant, group_by="campaign"))["groups"]
    by_campaign = {g["key"]: g["metrics"]["open_deals"] for g in groups}
    assert by_campaign == {spring: 1, None: 2}

    for deal, body in ((a, {"owner_id": ben, "source": "referral", "campaign_id": None}),
                       (b, {"amount": money("70")}), (c, {"amount": money("5", "USD")}), (a, {"title": "renamed"})):
        response = await tenant.patch(f"/v1/deals/{deal['id']}", json=body)
        assert response.status_code == 200, response.text
    await assert_exact(owner_engine, tenant)

    # Won and lost leave the snapshot; reopening brings a deal back.
    for deal, stage in ((a, "Won"), (b, "Lost"), (b, "Qualified")):
        body = {"stage_id": s[stage], **({"lost_note": "Price"} if stage == "Lost" else {})}
        response = await tenant.post(f"/v1/deals/{deal['id']}/move", json=body)
        assert response.status_code == 200, response.text
    await assert_exact(owner_engine, tenant)
    totals = (await snapshot(tenant, owner_id=ben))["totals"]
    assert (totals["open_deals"], totals["open_pipeline_value"], totals["weighted_pipeline_value"]) == (
        1, [money("70.00")], [money("14.00")])

    assert (await tenant.delete(f"/v1/deals/{c['id']}")).status_code == 204
    await assert_exact(owner_engine, tenant)
    assert (await snapshot(tenant, owner_id=ann))["totals"]["open_deals"] == 0
    assert (await tenant.post(f"/v1/deals/{c['id']}/restore")).status_code == 200
    pipeline = await default_pipeline(tenant)
    url = f"/v1/pipelines/{pipeline['id']}/stages/{s['Demo']}"
    assert (await tenant.patch(url, json={"probability": 55})).status_code == 200
    await assert_exact(owner_engine, tenant)
    assert (await tenant.patch(f"/v1/deals/{c['id']}", json={"owner_id": None})).status_code == 200
    fresh = await assert_exact(owner_engine, tenant)
    assert any(key[1] is None for key in fresh)
    totals = (await snapshot(tenant))["totals"]
    assert (totals["open_deals"], totals["open_pipeline_value"], totals["weighted_pipeline_value"]) == (
        2, [money("70.00"), money("5.00", "USD")], [money("14.00"), money("2.75", "USD")])


async def test_rollup_exact_under_concurrent_writers(tenant, owner_engine):
    s = stage_ids(await default_pipeline(tenant))
    deals = await asyncio.gather(*(make_deal(tenant, title=f"deal {n}", stage_id=s["Lead in"],
                                             amount=money(f"{n}.25")) for n in range(1, 17)))
    moves = [tenant.post(f"/v1/deals/{deal['id']}/move", json={"stage_id": s["Won"] if n % 2 else s["Demo"]})
             for n, deal in enumerate(deals)]
    assert {r.status_code for r in await asyncio.gather(*moves)} == {200}
    fresh = await assert_exact(owner_engine, tenant)
    assert sum(v[0] for v in fresh.values()) == 8
    assert (await snapshot(tenant))["totals"]["open_deals"] == 8
