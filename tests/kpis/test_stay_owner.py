"""/v1/kpis/funnel for one owner reads the stays' copy of their deal's owner (deal_stage_history.owner_id, migration
20261128_1201). Every stay's copy stays equal to its deal's owner, and each owner's funnel equals the same numbers
computed from the deals and stays themselves (deals once per stage, conversions, the average and the exact median),
through every kind of write that can change them: stays added (API moves and inserts), moved to another deal or
their copy written, a deal's owner changed (one deal, many at once, to none), a user purged (the deals' ON DELETE
SET NULL), trash and restore, outright deletes; another tenant's owners and stays never mix in."""

import random
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from crm_api.kpis.sql import Window, decimal_text, rate
from crm_api.maintenance.jobs import purge_tenant
from tests.kit.rows import execute
from tests.pipelines.helpers import created, make_deal, make_pipeline

DAY = datetime(2026, 3, 2, tzinfo=UTC)
FROM = date(2026, 3, 1)
ZONE = "Europe/Berlin"
# The funnel of one owner's live deals, from the deals and their stays (no stored copy of the owner).
REFERENCE = text("""
    SELECT s.id, s.kind, count(DISTINCT h.deal_id) AS entered,
           count(DISTINCT h.deal_id) FILTER (WHERE h.advanced) AS advanced,
           round(avg(extract(epoch FROM h.left_at - h.entered_at) / 86400)::numeric, 2) AS average,
           round((percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM h.left_at - h.entered_at) / 86400))::numeric, 2) AS median
    FROM pipeline_stages s
    LEFT JOIN (deal_stage_history h JOIN deals d ON d.tenant_id = h.tenant_id AND d.id = h.deal_id
                                                 AND d.deleted_at IS NULL AND d.owner_id = :owner)
           ON h.tenant_id = s.tenant_id AND h.stage_id = s.id AND h.entered_at >= :s AND h.entered_at < :e
    WHERE s.tenant_id = :t AND s.pipeline_id = :p AND s.deleted_at IS NULL
    GROUP BY s.id, s.kind, s.position ORDER BY s.position""")
# Stays whose copy of the owner is not their deal's owner.
DRIFT = text("""
    SELECT count(*) FROM deal_stage_history h JOIN deals d ON d.tenant_id = h.tenant_id AND d.id = h.deal_id
    WHERE h.tenant_id = :t AND h.owner_id IS DISTINCT FROM d.owner_id""")


def window() -> Window:
    return Window(FROM, datetime.now(UTC).date() + timedelta(days=1), ZONE)


async def funnel(tenant, pipeline, owner):
    """The API's funnel of `owner`: (stage, entered, conversion, average, median) per stage."""
    w = window()
    response = await tenant.get("/v1/kpis/funnel", params={
        "pipeline_id": pipeline, "owner_id": owner, "from": w.from_date.isoformat(), "to": w.to_date.isoformat()})
    assert response.status_code == 200, response.text
    return [(s["stage_id"], s["entered"], s["conversion_to_next"], s["average_days"], s["median_days"])
            for s in response.json()["stages"]]


async def reference(owner_engine, tenant, pipeline, owner):
    async with owner_engine.connect() as conn:
        rows = (await conn.execute(REFERENCE, {"t": tenant.id, "p": uuid.UUID(pipeline), "owner": uuid.UUID(owner),
                                               **window().params(None)})).all()
    return [(str(r.id), r.entered, rate(r.advanced, r.entered) if r.kind == "open" else None,
             decimal_text(r.average), decimal_text(r.median)) for r in rows]


async def assert_owned(owner_engine, tenant, pipeline, owners):
    """Every stay's copy is its deal's owner and each owner's funnel is the reference's; returns each owner's
    deals entered (summed over the stages)."""
    async with owner_engine.connect() as conn:
        assert (await conn.execute(DRIFT, {"t": tenant.id})).scalar_one() == 0
    entered = {}
    for owner in owners:
        made = await funnel(tenant, pipeline, owner)
        assert made == await reference(owner_engine, tenant, pipeline, owner), owner
        entered[owner] = sum(r[1] for r in made)
    return entered


async def stays_of(owner_engine, deal):
    async with owner_engine.connect() as conn:
        return (await conn.execute(text("SELECT id, owner_id FROM deal_stage_history WHERE deal_id = :d ORDER BY id"),
                                   {"d": uuid.UUID(deal)})).all()


async def fill(owner_engine, tenant, pipeline, stages, deals, seed):
    """Random stays (re-entries, ties, durations from seconds to weeks, open ones) instead of the deals' own."""
    rng = random.Random(seed)
    durations = [0, 1, 60, 3600, 28800, 86400, 86400, 86400 * 3 + 17, 700000]
    rows = []
    for deal in deals:
        at = DAY + timedelta(hours=rng.randrange(0, 24 * 6))
        for n in range(rng.randrange(1, 6)):
            stage = stages[rng.choice((0, 0, 1, 1, 2, 3, 4))] if n else stages[0]
            seconds = rng.choice(durations) if rng.random() < 0.5 else rng.randrange(1, 900000)
            left = None if n == 4 or rng.random() < 0.15 else at + timedelta(seconds=seconds)
            rows.append({"t": tenant.id, "i": uuid.uuid4(), "d": uuid.UUID(deal), "p": uuid.UUID(pipeline),
                         "s": uuid.UUID(stage), "e": at, "l": left})
            if left is None:
                break
            at = left if rng.random() < 0.8 else at + timedelta(hours=rng.randrange(1, 30))
    async with owner_engine.begin() as conn:
        await conn.execute(text("DELETE FROM deal_stage_history WHERE tenant_id = :t"), {"t": tenant.id})
        await conn.execute(text("""
            INSERT INTO deal_stage_history (tenant_id, id, deal_id, pipeline_id, stage_id, status, entered_at, left_at,
                                            entered_by)
            VALUES (:t, :i, :d, :p, :s, 'open', :e, :l, '{"type": "system", "id": null}')"""), rows)


async def test_one_owners_funnel_follows_every_write(app, make_tenant, owner_engine):
    tenant = await make_tenant("Berlin", time_zone=ZONE)
    other = await make_tenant("Other", time_zone=ZONE)
    stages_spec = [("New", 10, "open", None), ("Call", 30, "open", None), ("Offer", 50, "open", None),
                   ("Won", 100, "won", None), ("Lost", 0, "lost", None)]
    pipeline = await make_pipeline(tenant, stages=stages_spec)
    p, stages = pipeline["id"], [s["id"] for s in pipeline["stages"]]
    ann, bob, cat = [(await created(tenant, "/v1/users", email=f"{n}@example.com", name=n))["id"]
                     for n in ("ann", "bob", "cat")]
    owners = [ann, bob, cat]
    deals = [(await make_deal(tenant, title=f"d{i}", stage_id=stages[0], owner_id=[ann, bob, cat, None][i % 4]))["id"]
             for i in range(16)]
    await fill(owner_engine, tenant, p, stages, deals, seed=3)
    # The other tenant: its own owner, deals and stays, checked unchanged at the end.
    other_pipeline = await make_pipeline(other, stages=stages_spec)
    op_, other_stages = other_pipeline["id"], [s["id"] for s in other_pipeline["stages"]]
    oz = (await created(other, "/v1/users", email="oz@example.com", name="oz"))["id"]
    other_deals = [(await make_deal(other, title=f"o{i}", stage_id=other_stages[0], owner_id=oz))["id"]
                   for i in range(6)]
    await fill(owner_engine, other, op_, other_stages, other_deals, seed=4)
    others = await assert_owned(owner_engine, other, op_, [oz])
    other_funnel = await funnel(other, op_, oz)

    start = await assert_owned(owner_engine, tenant, p, owners)
    assert all(start[o] > 0 for o in owners)
    assert {a for _, _, _, a, _ in await funnel(tenant, p, ann)} - {None}  # ended stays: averages and medians
    # Deals moved through the API: new stays take the deal's owner.
    for stage in (stages[1], stages[2], stages[0]):
        response = await tenant.post(f"/v1/deals/{deals[0]}/move", json={"stage_id": stage})
        assert response.status_code == 200, response.text
    assert {o for _, o in await stays_of(owner_engine, deals[0])} == {uuid.UUID(ann)}
    moved = await assert_owned(owner_engine, tenant, p, owners)
    # One deal's owner changed: its stays follow, from one owner's funnel to the other's.
    response = await tenant.patch(f"/v1/deals/{deals[0]}", json={"owner_id": bob})
    assert response.status_code == 200, response.text
    assert {o for _, o in await stays_of(owner_engine, deals[0])} == {uuid.UUID(bob)}
    changed = await assert_owned(owner_engine, tenant, p, owners)
    assert changed[ann] < moved[ann] and changed[bob] > moved[bob] and changed[cat] == moved[cat]
    # To no owner.
    response = await tenant.patch(f"/v1/deals/{deals[4]}", json={"owner_id": None})
    assert response.status_code == 200, response.text
    assert {o for _, o in await stays_of(owner_engine, deals[4])} == {None}
    unowned = await assert_owned(owner_engine, tenant, p, owners)
    assert unowned[ann] < changed[ann]
    # Many deals at once, in one statement: every bob deal goes to cat.
    await execute(owner_engine, "UPDATE deals SET owner_id = :c WHERE tenant_id = :t AND owner_id = :b",
                  c=uuid.UUID(cat), b=uuid.UUID(bob), t=tenant.id)
    bulk = await assert_owned(owner_engine, tenant, p, owners)
    assert bulk[bob] == 0 and bulk[cat] == unowned[cat] + unowned[bob]
    # A stay moved to another deal takes that deal's owner; a stay's copy written directly is set back.
    [(stay, _), *_] = await stays_of(owner_engine, deals[8])  # ann's
    await execute(owner_engine, "UPDATE deal_stage_history SET deal_id = :d WHERE id = :i", d=uuid.UUID(deals[2]),
                  i=stay)  # cat's
    assert dict(await stays_of(owner_engine, deals[2]))[stay] == uuid.UUID(cat)
    await execute(owner_engine, "UPDATE deal_stage_history SET owner_id = :b WHERE deal_id = :d",
                  b=uuid.UUID(bob), d=uuid.UUID(deals[1]))
    assert {o for _, o in await stays_of(owner_engine, deals[1])} == {uuid.UUID(cat)}
    rewritten = await assert_owned(owner_engine, tenant, p, owners)
    # Trash and restore: the trashed deal's stays keep their owner but leave the funnel, and come back.
    assert (await tenant.delete(f"/v1/deals/{deals[2]}")).status_code == 204
    trashed = await assert_owned(owner_engine, tenant, p, owners)
    assert trashed[cat] < rewritten[cat] and {o for _, o in await stays_of(owner_engine, deals[2])} == {uuid.UUID(cat)}
    assert (await tenant.post(f"/v1/deals/{deals[2]}/restore")).status_code == 200
    assert await assert_owned(owner_engine, tenant, p, owners) == rewritten
    # Outright deletes: a live deal, then a trashed one.
    await execute(owner_engine, "DELETE FROM deals WHERE id = :d", d=uuid.UUID(deals[6]))
    assert (await tenant.delete(f"/v1/deals/{deals[10]}")).status_code == 204
    await execute(owner_engine, "DELETE FROM deals WHERE id = :d", d=uuid.UUID(deals[10]))
    deleted = await assert_owned(owner_engine, tenant, p, owners)
    assert deleted[cat] < rewritten[cat]
    # A user purged from the trash (as the purge job does it: the app role under row-level security): the deals'
    # owner is set to NULL by the foreign key, and their stays follow.
    assert deleted[ann] > 0
    assert (await tenant.delete(f"/v1/users/{ann}")).status_code == 204
    await execute(owner_engine, "UPDATE users SET deleted_at = now() - interval '400 days' WHERE id = :u",
                  u=uuid.UUID(ann))
    assert await purge_tenant({"sessionmaker": app.state.sessionmaker, "settings": app.state.settings},
                              tenant.id) == 1
    purged = await assert_owned(owner_engine, tenant, p, owners)
    assert purged[ann] == 0 and purged[cat] == deleted[cat]
    assert {o for _, o in await stays_of(owner_engine, deals[8])} == {None}
    # Tenants never mix: each tenant's owner is nobody in the other; the other tenant's funnel is unchanged.
    assert all(r[1] == 0 for r in await funnel(tenant, p, oz))
    assert all(r[1] == 0 for r in await funnel(other, op_, cat))
    assert await assert_owned(owner_engine, other, op_, [oz]) == others
    assert await funnel(other, op_, oz) == other_funnel
