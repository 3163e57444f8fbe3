"""The stored `advanced` flag of stage stays (kept by triggers, read by /v1/kpis/funnel) equals what a fresh
window over each deal's stays gives, through moves forwards, backwards and to lost, backdated entries, a
reordering of the stages, trashed and deleted deals; and the funnel's conversions follow it."""

import uuid

from sqlalchemy import text

from tests.kit.rows import execute
from tests.pipelines.helpers import default_pipeline, make_deal, stage_ids

STORED = text("SELECT id, advanced FROM deal_stage_history WHERE tenant_id = :tenant")
FRESH = text("""
    SELECT h.id, coalesce(s.position < max(s.position) FILTER (WHERE s.kind <> 'lost') OVER (
               PARTITION BY h.deal_id, h.pipeline_id ORDER BY h.entered_at, h.id
               ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), false)
    FROM deal_stage_history h JOIN pipeline_stages s ON s.tenant_id = h.tenant_id AND s.id = h.stage_id
    WHERE h.tenant_id = :tenant""")
STAYS = text("""SELECT s.name, h.advanced FROM deal_stage_history h JOIN pipeline_stages s ON s.id = h.stage_id
                WHERE h.deal_id = :deal ORDER BY h.entered_at, h.id""")


async def assert_exact(owner_engine, tenant):
    async with owner_engine.connect() as conn:
        stored, fresh = [dict((await conn.execute(q, {"tenant": tenant.id})).all()) for q in (STORED, FRESH)]
    assert stored == fresh


async def stays(owner_engine, deal):
    async with owner_engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(STAYS, {"deal": uuid.UUID(deal)})).all()]


async def move(tenant, deal, stage, **body):
    response = await tenant.post(f"/v1/deals/{deal}/move", json={"stage_id": stage, **body})
    assert response.status_code == 200, response.text


async def conversions(tenant, day):
    response = await tenant.get("/v1/kpis/funnel", params={"from": day, "to": day})
    assert response.status_code == 200, response.text
    return {s["name"]: (s["entered"], s["conversion_to_next"]) for s in response.json()["stages"]}


async def test_advanced_follows_every_write(tenant, other_tenant, owner_engine):
    pipeline = await default_pipeline(tenant)
    s = stage_ids(pipeline)
    a = (await make_deal(tenant, title="a", stage_id=s["Lead in"]))["id"]
    for stage in ("Demo", "Qualified"):
        await move(tenant, a, s[stage])
    await move(tenant, a, s["Lost"], lost_note="Price")
    b = (await make_deal(tenant, title="b", stage_id=s["Lead in"]))["id"]
    await move(tenant, b, s["Won"])
    other = (await make_deal(other_tenant, title="o", stage_id=stage_ids(await default_pipeline(other_tenant))["Demo"]))
    await assert_exact(owner_engine, tenant)
    assert await stays(owner_engine, a) == [("Lead in", True), ("Demo", False), ("Qualified", False), ("Lost", False)]
    assert await stays(owner_engine, b) == [("Lead in", True), ("Won", False)]
    assert await stays(owner_engine, other["id"]) == [("Demo", False)]
    async with owner_engine.connect() as conn:
        today = (await conn.execute(text("SELECT (now() AT TIME ZONE 'UTC')::date::text"))).scalar_one()
    funnel = await conversions(tenant, today)
    assert (funnel["Lead in"], funnel["Demo"], funnel["Qualified"]) == ((2, "1.0000"), (1, "0.0000"), (1, "0.0000"))

    # Qualified now after Demo: a's Demo stay was followed by a stage further on.
    order = [s[n] for n in ("Lead in", "Demo", "Qualified", "Proposal", "Negotiation", "Won", "Lost")]
    response = await tenant.post(f"/v1/pipelines/{pipeline['id']}/stages/reorder", json={"stage_ids": order})
    assert response.status_code == 200, response.text
    await assert_exact(owner_engine, tenant)
    assert await stays(owner_engine, a) == [("Lead in", True), ("Demo", True), ("Qualified", False), ("Lost", False)]
    assert (await conversions(tenant, today))["Demo"] == (1, "1.0000")

    # Backdated: Qualified entered before Lead in, so it is a's first stay and Lead in... is followed by Demo.
    await execute(owner_engine, "UPDATE deal_stage_history SET entered_at = entered_at - interval '1 day' "
                                "WHERE deal_id = :d AND stage_id = :s", d=uuid.UUID(a), s=uuid.UUID(s["Qualified"]))
    await assert_exact(owner_engine, tenant)
    assert await stays(owner_engine, a) == [("Qualified", False), ("Lead in", True), ("Demo", False), ("Lost", False)]

    # Back to an open stage further on: the earlier stays advanced.
    await move(tenant, a, s["Negotiation"])
    await assert_exact(owner_engine, tenant)
    # (Lost has the last position: Negotiation is not further on from it.)
    assert [adv for _, adv in await stays(owner_engine, a)] == [True, True, True, False, False]
    await execute(owner_engine, "DELETE FROM deal_stage_history WHERE deal_id = :d AND stage_id = :s",
                  d=uuid.UUID(a), s=uuid.UUID(s["Negotiation"]))
    await assert_exact(owner_engine, tenant)
    assert [adv for _, adv in await stays(owner_engine, a)] == [False, True, False, False]

    # A trashed deal leaves the funnel (its stays stay as they are); a deleted one takes its stays along.
    assert (await tenant.delete(f"/v1/deals/{b}")).status_code == 204
    assert (await conversions(tenant, today))["Lead in"] == (1, "1.0000")
    await execute(owner_engine, "DELETE FROM deals WHERE id = :d", d=uuid.UUID(b))
    await assert_exact(owner_engine, tenant)
    await assert_exact(owner_engine, other_tenant)
