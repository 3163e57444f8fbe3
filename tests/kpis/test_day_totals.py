"""The daily rollups (activity_day_totals, deal_day_totals, kept by triggers) stay equal to a fresh aggregate of
the records in the tenant's time zone through every kind of write (create, reschedule, owner/type/status/amount
changes, won and lost and reopened, trash and restore, backdating, a change of the tenant's time zone), no tenant
sees another's rows, and /v1/kpis/sales counts today's activities only up to now."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import text

from crm_api.kit.uow import UnitOfWork
from crm_api.kpis.sales import SalesKpis
from crm_api.kpis.sql import Window
from tests.kit.rows import execute
from tests.pipelines.helpers import created, default_pipeline, make_deal, make_pipeline, stage_ids

ACTIVITY_ROLLUP = text("""
    SELECT day, type, owner_id::text, sum(count) FROM activity_day_totals WHERE tenant_id = :tenant
    GROUP BY 1, 2, 3 HAVING sum(count) <> 0""")
ACTIVITY_FRESH = text("""
    SELECT (x.at AT TIME ZONE z.time_zone)::date, a.type, a.owner_id::text, count(*)
    FROM activities a JOIN tenants z ON z.id = a.tenant_id
    CROSS JOIN LATERAL (SELECT CASE a.type WHEN 'call' THEN a.occurred_at ELSE a.starts_at END AS at) x
    WHERE a.tenant_id = :tenant AND a.deleted_at IS NULL AND a.type IN ('call', 'meeting') AND x.at IS NOT NULL
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT (a.created_at AT TIME ZONE z.time_zone)::date, 'logged', a.owner_id::text, count(*)
    FROM activities a JOIN tenants z ON z.id = a.tenant_id
    WHERE a.tenant_id = :tenant AND a.deleted_at IS NULL GROUP BY 1, 2, 3""")
LOCAL = "AT TIME ZONE (SELECT time_zone FROM tenants WHERE id = :tenant))::date"


def deal_rollup(table: str, keys: str):
    """A deal rollup's rows summed over shards: (kind, day, *keys, currency, sums)."""
    return text(f"""
        SELECT kind, day, {keys}, currency, sum(count), sum(flagged), sum(amount_sum), sum(amount_count),
               sum(cycle_seconds)
        FROM {table} WHERE tenant_id = :tenant GROUP BY 1, 2, 3, 4, 5
        HAVING sum(count) <> 0 OR sum(flagged) <> 0 OR sum(amount_sum) <> 0 OR sum(amount_count) <> 0
            OR sum(cycle_seconds) <> 0""")


def deal_fresh(keys: str) -> str:
    """The same rows aggregated afresh from the deals and stays; `keys` are two columns of a deal `d`."""
    currency = "coalesce(d.currency, '')"
    return f"""
        SELECT 'created', (d.created_at {LOCAL}, {keys}, {currency}, count(*),
               count(*) FILTER (WHERE d.status = 'won'), 0, 0, 0
        FROM deals d WHERE d.tenant_id = :tenant AND d.deleted_at IS NULL GROUP BY 1, 2, 3, 4, 5
        UNION ALL
        SELECT 'won', (d.won_at {LOCAL}, {keys}, {currency}, count(*),
               count(*) FILTER (WHERE d.is_renewal), coalesce(sum(d.amount), 0), count(d.amount),
               sum(extract(epoch FROM d.won_at - d.created_at))
        FROM deals d WHERE d.tenant_id = :tenant AND d.deleted_at IS NULL AND d.status = 'won' GROUP BY 1, 2, 3, 4, 5
        UNION ALL
        SELECT 'lost', (d.lost_at {LOCAL}, {keys}, {currency}, count(*),
               count(*) FILTER (WHERE d.is_renewal), 0, 0, 0
        FROM deals d WHERE d.tenant_id = :tenant AND d.deleted_at IS NULL AND d.status = 'lost'
        GROUP BY 1, 2, 3, 4, 5
        UNION ALL
        SELECT 'proposal', (h.entered_at {LOCAL}, {keys}, '', count(*), 0, 0, 0, 0
        FROM deal_stage_history h JOIN pipeline_stages s ON s.id = h.stage_id AND s.is_proposal
        JOIN deals d ON d.id = h.deal_id AND d.deleted_at IS NULL
        WHERE h.tenant_id = :tenant GROUP BY 1, 2, 3, 4, 5"""


DEAL_ROLLUP = deal_rollup("deal_day_totals", "pipeline_id::text, owner_id::text")
DEAL_FRESH = text(deal_fresh("d.pipeline_id::text, d.owner_id::text"))
# deal_attribution_day_totals: the same events under the deal's source, campaign, company's country (read here
# from the company itself, not the deal's copy of it), owner, pipeline, and once more under 'all'.
ATTRIBUTION_ROLLUP = deal_rollup("deal_attribution_day_totals", "attribute, value")
COUNTRY = "(SELECT c.address_country FROM companies c WHERE c.id = {}.company_id)"
ATTRIBUTION_FRESH = text(" UNION ALL ".join(deal_fresh(keys) for keys in (
    "'source', d.source::text", "'campaign', d.campaign_id::text", f"'country', {COUNTRY.format('d')}",
    "'owner', d.owner_id::text", "'pipeline', d.pipeline_id::text", "'all', NULL::text")))
# deal_scoped_day_totals: under each filter's scope ('pipeline', 'owner'; a deal without an owner only under its
# pipeline) and attribute (source, campaign, country), read as two columns: "scope id pipeline", "attribute value".
SCOPED_ROLLUP = deal_rollup("deal_scoped_day_totals",
                            "scope || ' ' || scope_id || ' ' || pipeline_id, attribute || coalesce(' ' || value, '')")
SCOPED_FRESH = text(" UNION ALL ".join(
    deal_fresh(f"'{scope} ' || d.{column}::text || ' ' || d.pipeline_id, '{attribute}' || coalesce(' ' || {value}, '')")
    for scope, column in (("pipeline", "pipeline_id"), ("owner", "owner_id"))
    for attribute, value in (("source", "d.source"), ("campaign", "d.campaign_id::text"),
                             ("country", COUNTRY.format("d")))))
ACTIVITY_COUNTRY_ROLLUP = text("""
    SELECT day, type, country, sum(count) FROM activity_country_day_totals WHERE tenant_id = :tenant
    GROUP BY 1, 2, 3 HAVING sum(count) <> 0""")
ACTIVITY_COUNTRY_FRESH = text(f"""
    SELECT (x.at AT TIME ZONE z.time_zone)::date, a.type, {COUNTRY.format('a')}, count(*)
    FROM activities a JOIN tenants z ON z.id = a.tenant_id
    CROSS JOIN LATERAL (SELECT CASE a.type WHEN 'call' THEN a.occurred_at ELSE a.starts_at END AS at) x
    WHERE a.tenant_id = :tenant AND a.deleted_at IS NULL AND a.type IN ('call', 'meeting') AND x.at IS NOT NULL
    GROUP BY 1, 2, 3""")
# activity_owner_country_day_totals: the same per owner (activities without one not counted).
OWNER_COUNTRY_ROLLUP = text("""
    SELECT day, type, owner_id::text, country, sum(count) FROM activity_owner_country_day_totals
    WHERE tenant_id = :tenant GROUP BY 1, 2, 3, 4 HAVING sum(count) <> 0""")
OWNER_COUNTRY_FRESH = text(f"""
    SELECT (x.at AT TIME ZONE z.time_zone)::date, a.type, a.owner_id::text, {COUNTRY.format('a')}, count(*)
    FROM activities a JOIN tenants z ON z.id = a.tenant_id
    CROSS JOIN LATERAL (SELECT CASE a.type WHEN 'call' THEN a.occurred_at ELSE a.starts_at END AS at) x
    WHERE a.tenant_id = :tenant AND a.deleted_at IS NULL AND a.type IN ('call', 'meeting') AND x.at IS NOT NULL
      AND a.owner_id IS NOT NULL
    GROUP BY 1, 2, 3, 4""")
# Each proposal stay's previous proposal stay of the same deal (by entered_at, id).
PREVIOUS = text("""
    SELECT h.id, h.prev_proposal_at, CASE WHEN s.is_proposal THEN (
               SELECT max(l.entered_at) FROM deal_stage_history l
               JOIN pipeline_stages ls ON ls.id = l.stage_id AND ls.is_proposal
               WHERE l.deal_id = h.deal_id AND (l.entered_at, l.id) < (h.entered_at, h.id)) END
    FROM deal_stage_history h JOIN pipeline_stages s ON s.id = h.stage_id WHERE h.tenant_id = :tenant""")


def _uuid(value):
    return uuid.UUID(value)


async def assert_exact(owner_engine, tenant):
    """The rollups equal fresh aggregates; returns the fresh ones (activities, deals, deal attribution,
    activities by country, deals by scope, activities by owner and country)."""
    out = []
    async with owner_engine.connect() as conn:
        for rollup, fresh, width in ((ACTIVITY_ROLLUP, ACTIVITY_FRESH, 3), (DEAL_ROLLUP, DEAL_FRESH, 5),
                                     (ATTRIBUTION_ROLLUP, ATTRIBUTION_FRESH, 5),
                                     (ACTIVITY_COUNTRY_ROLLUP, ACTIVITY_COUNTRY_FRESH, 3),
                                     (SCOPED_ROLLUP, SCOPED_FRESH, 5), (OWNER_COUNTRY_ROLLUP, OWNER_COUNTRY_FRESH, 4)):
            kept, made = [{tuple(r[:width]): tuple(Decimal(v) for v in r[width:])
                           for r in (await conn.execute(q, {"tenant": tenant.id})).all()
                           if rollup is not SCOPED_ROLLUP or r[2] is not None}  # no owner: no owner scope
                          for q in (rollup, fresh)]
            assert kept == made
            out.append(made)
        for _, stored, fresh in (await conn.execute(PREVIOUS, {"tenant": tenant.id})).all():
            assert stored == fresh
    return out


async def log(tenant, **body):
    response = await tenant.post("/v1/activities", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def ok(response, status=200):
    assert response.status_code == status, response.text


async def test_activity_rollup_follows_every_write(make_tenant, owner_engine):
    tenant = await make_tenant("Berlin", time_zone="Europe/Berlin")
    other = await make_tenant("Other")
    ann = (await created(tenant, "/v1/users", email="ann@example.com", name="Ann"))["id"]
    ben = (await created(tenant, "/v1/users", email="ben@example.com", name="Ben"))["id"]
    # 23:30 UTC on 10 March is 11 March in Berlin.
    late = await log(tenant, type="call", direction="outbound", occurred_at="2026-03-10T23:30:00Z", owner_id=ann)
    await log(tenant, type="call", direction="inbound", occurred_at="2026-03-10T12:00:00Z", owner_id=ben)
    meeting = await log(tenant, type="meeting", starts_at="2026-03-11T09:00:00Z", ends_at="2026-03-11T10:00:00Z",
                        owner_id=ann)
    await log(tenant, type="email", direction="inbound", occurred_at="2026-03-10T12:00:00Z")
    await log(other, type="call", direction="outbound", occurred_at="2026-03-10T12:00:00Z")
    activities, *_ = await assert_exact(owner_engine, tenant)
    assert sum(v[0] for k, v in activities.items() if k[1] == "logged") == 4  # every type, by created_at
    day = datetime(2026, 3, 11).date()
    assert activities[(day, "call", ann)] == (1,) and activities[(day, "meeting", ann)] == (1,)
    assert {k: v for k, v in (await assert_exact(owner_engine, other))[0].items() if k[1] != "logged"} == {
        (datetime(2026, 3, 10).date(), "call", None): (1,)}

    for change in ({"occurred_at": "2026-03-12T08:00:00Z"}, {"owner_id": ben}, {"owner_id": None}):
        await ok(await tenant.patch(f"/v1/activities/{late}", json=change))
        await assert_exact(owner_engine, tenant)
    await ok(await tenant.patch(f"/v1/activities/{meeting}", json={"starts_at": "2026-04-01T09:00:00Z",
                                                                     "ends_at": "2026-04-01T10:00:00Z"}))
    await ok(await tenant.delete(f"/v1/activities/{meeting}"), 204)
    activities, *_ = await assert_exact(owner_engine, tenant)
    assert not any(key[1] == "meeting" for key in activities)
    await ok(await tenant.post(f"/v1/activities/{meeting}/restore"))
    activities, *_ = await assert_exact(owner_engine, tenant)
    assert activities[(datetime(2026, 4, 1).date(), "meeting", ann)] == (1,)
    await execute(owner_engine, "UPDATE activities SET created_at = '2026-03-10T23:30:00Z' WHERE id = :i",
                  i=_uuid(meeting))  # 11 March in Berlin
    await assert_exact(owner_engine, tenant)
    board = await tenant.get("/v1/kpis/leaderboard", params={"from": "2026-03-11", "to": "2026-03-11"})
    assert {r["name"]: r["activities_logged"] for r in board.json()["data"]} == {"Ann": 1, "Ben": 0}
    board = await tenant.get("/v1/kpis/leaderboard", params={"from": "2026-03-10", "to": "2026-03-10"})
    assert {r["name"]: r["activities_logged"] for r in board.json()["data"]} == {"Ann": 0, "Ben": 0}
    await execute(owner_engine, "DELETE FROM activities WHERE id = :i", i=_uuid(late))
    await assert_exact(owner_engine, tenant)

    # Another time zone: the tenant's rows are rebuilt in it, in the same transaction.
    await execute(owner_engine, "UPDATE tenants SET time_zone = 'Asia/Kolkata' WHERE id = :t", t=tenant.id)
    activities, *_ = await assert_exact(owner_engine, tenant)
    assert activities[(datetime(2026, 3, 10).date(), "call", ben)] == (1,)  # 17:30 in Kolkata
    month = {"from": "2026-03-01", "to": "2026-04-30", "group_by": "month"}
    groups = {g["key"]: g["metrics"] for g in (await tenant.get("/v1/kpis/sales", params=month)).json()["groups"]}
    assert (groups["2026-03-01"]["calls_logged"], groups["2026-04-01"]["meetings_logged"]) == (1, 1)
    assert {k: v for k, v in (await assert_exact(owner_engine, other))[0].items() if k[1] != "logged"} == {
        (datetime(2026, 3, 10).date(), "call", None): (1,)}


async def test_deal_rollup_follows_every_write(make_tenant, owner_engine):
    tenant = await make_tenant("Tokyo", time_zone="Asia/Tokyo")
    s = stage_ids(await default_pipeline(tenant))
    ann = (await created(tenant, "/v1/users", email="ann@example.com", name="Ann"))["id"]
    ben = (await created(tenant, "/v1/users", email="ben@example.com", name="Ben"))["id"]
    spring = (await created(tenant, "/v1/campaigns", name="Spring", channel="email"))["id"]
    a = await make_deal(tenant, title="a", stage_id=s["Lead in"], amount={"amount": "100.10", "currency": "EUR"},
                        owner_id=ann, source="web", campaign_id=spring)
    b = await make_deal(tenant, title="b", stage_id=s["Demo"], amount={"amount": "50", "currency": "USD"},
                        owner_id=ben, is_renewal=True)
    c = await make_deal(tenant, title="c", stage_id=s["Demo"], owner_id=ann)
    await execute(owner_engine, "UPDATE deals SET created_at = '2026-01-01T16:00:00Z' WHERE id = :i", i=_uuid(a["id"]))
    await assert_exact(owner_engine, tenant)
    for deal, stage in ((a, "Won"), (b, "Lost"), (c, "Won")):
        await ok(await tenant.post(f"/v1/deals/{deal['id']}/move",
                                   json={"stage_id": s[stage], **({"lost_note": "Price"} if stage == "Lost" else {})}))
        await assert_exact(owner_engine, tenant)
    for deal, body in ((a, {"owner_id": ben, "source": "referral", "campaign_id": None}),
                       (a, {"amount": {"amount": "70", "currency": "USD"}}), (c, {"owner_id": None}),
                       (b, {"is_renewal": False})):
        await ok(await tenant.patch(f"/v1/deals/{deal['id']}", json=body))
        await assert_exact(owner_engine, tenant)
    _, deals, *_ = await assert_exact(owner_engine, tenant)
    won = {k: v for k, v in deals.items() if k[0] == "won"}
    assert {(k[3], k[4], v[0], v[2], v[3]) for k, v in won.items()} == {
        (None, "", 1, 0, 0), (ben, "USD", 1, Decimal("70"), 1)}
    created_a = [v for k, v in deals.items() if k[0] == "created" and k[1] == datetime(2026, 1, 2).date()]
    assert created_a == [(1, 1, 0, 0, 0)]  # 01:00 on 2 January in Tokyo, and won now
    await ok(await tenant.post(f"/v1/deals/{b['id']}/move", json={"stage_id": s["Qualified"]}))
    await ok(await tenant.delete(f"/v1/deals/{a['id']}"), 204)
    _, deals, *_ = await assert_exact(owner_engine, tenant)
    assert {k[0] for k in deals} == {"created", "won"} and sum(v[0] for k, v in deals.items() if k[0] == "won") == 1
    await ok(await tenant.post(f"/v1/deals/{a['id']}/restore"))
    await assert_exact(owner_engine, tenant)
    await execute(owner_engine, "UPDATE tenants SET time_zone = 'America/Los_Angeles' WHERE id = :t", t=tenant.id)
    _, deals, *_ = await assert_exact(owner_engine, tenant)
    assert any(k[0] == "created" and k[1] == datetime(2026, 1, 1).date() for k in deals)
    await execute(owner_engine, "DELETE FROM deals WHERE id = :i", i=_uuid(c["id"]))
    await assert_exact(owner_engine, tenant)


async def test_today_counts_only_up_to_now(make_tenant):
    """Past days come from the rollup; today's activities from the table, and only those up to now."""
    tenant = await make_tenant("Berlin", time_zone="Europe/Berlin")
    zone = ZoneInfo("Europe/Berlin")
    now = datetime.now(UTC)
    today = now.astimezone(zone).date()
    today_start = datetime.combine(today, datetime.min.time(), zone)

    def iso(at):
        return at.astimezone(UTC).isoformat().replace("+00:00", "Z")

    for at in (today_start - timedelta(hours=1), now - timedelta(minutes=1), now + timedelta(hours=1)):
        await log(tenant, type="meeting", starts_at=iso(at), ends_at=iso(at + timedelta(minutes=30)))
        await log(tenant, type="call", direction="outbound", occurred_at=iso(at))
    window = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}
    totals = (await tenant.get("/v1/kpis/sales", params=window)).json()["totals"]
    assert (totals["meetings_logged"], totals["calls_logged"]) == (2, 2)
    expected: dict[str, int] = {}
    for at in (today_start - timedelta(hours=1), now - timedelta(minutes=1)):
        day = at.astimezone(zone).date().isoformat()
        expected[day] = expected.get(day, 0) + 1
    response = await tenant.get("/v1/kpis/sales", params={**window, "group_by": "day"})
    assert {g["key"]: g["metrics"]["meetings_logged"] for g in response.json()["groups"]} == expected
    yesterday = {"from": window["from"], "to": window["from"]}
    response = await tenant.get("/v1/kpis/sales", params=yesterday)
    assert response.json()["totals"]["calls_logged"] == expected[window["from"]]


async def test_proposals_count_each_deal_once_per_bucket(make_tenant, owner_engine):
    """Deals entering a proposal stage: from the daily rollup less repeats in the same bucket, by the deal's
    current keys; exact through re-entries, owner changes, trash and restore, a stage's flag, deletes."""
    tenant = await make_tenant("Berlin", time_zone="Europe/Berlin")
    other = await make_tenant("Other")
    ann = (await created(tenant, "/v1/users", email="ann@example.com", name="Ann"))["id"]
    ben = (await created(tenant, "/v1/users", email="ben@example.com", name="Ben"))["id"]
    pipeline = await make_pipeline(tenant, stages=[("New", 10, "open", None), ("Offer", 50, "open", None),
                                                   ("Won", 100, "won", None), ("Lost", 0, "lost", None)])
    st = stage_ids(pipeline)
    response = await tenant.patch(f"/v1/pipelines/{pipeline['id']}/stages/{st['Offer']}", json={"is_proposal": True})
    assert response.status_code == 200, response.text
    spring = (await created(tenant, "/v1/campaigns", name="Spring", channel="email"))["id"]
    a = (await make_deal(tenant, title="a", pipeline_id=pipeline["id"], stage_id=st["New"], owner_id=ann,
                         source="web"))["id"]
    b = (await make_deal(tenant, title="b", pipeline_id=pipeline["id"], stage_id=st["New"], owner_id=ben,
                         source="referral", campaign_id=spring))["id"]
    for deal, stage in ((a, "Offer"), (a, "New"), (a, "Offer"), (a, "New"), (a, "Offer"), (b, "Offer")):
        await ok(await tenant.post(f"/v1/deals/{deal}/move", json={"stage_id": st[stage]}))
    o = stage_ids(await make_pipeline(other, stages=[("New", 10, "open", None), ("Offer", 50, "open", None),
                                                     ("Won", 100, "won", None), ("Lost", 0, "lost", None)]))
    await assert_exact(owner_engine, tenant)

    # a's three Offer entries: 31 Jan 23:30 UTC (1 Feb in Berlin), 10 Jan, 15 Feb; b's on 20 Feb.
    async with owner_engine.connect() as conn:
        offers = [r[0] for r in (await conn.execute(text(
            "SELECT id FROM deal_stage_history WHERE deal_id = :d AND stage_id = :s ORDER BY entered_at, id"),
            {"d": _uuid(a), "s": _uuid(st["Offer"])})).all()]
        offers += [r[0] for r in (await conn.execute(text(
            "SELECT id FROM deal_stage_history WHERE deal_id = :d AND stage_id = :s"),
            {"d": _uuid(b), "s": _uuid(st["Offer"])})).all()]
    for stay, at in zip(offers, ("2026-01-31T23:30:00Z", "2026-01-10T12:00:00Z", "2026-02-15T12:00:00Z",
                                 "2026-02-20T12:00:00Z"), strict=True):
        await execute(owner_engine, "UPDATE deal_stage_history SET entered_at = :at WHERE id = :i", i=stay,
                      at=datetime.fromisoformat(at))
    await assert_exact(owner_engine, tenant)

    async def proposals(**params):
        response = await tenant.get("/v1/kpis/sales", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        return body["totals"]["proposals_sent"], {g["key"]: g["metrics"]["proposals_sent"] for g in body["groups"]}

    both = {"from": "2026-01-01", "to": "2026-02-28"}

    async def attributed(key):
        """proposals_sent by a grouping, from deal_attribution_day_totals; and the same numbers (every metric)
        when the pipeline filter sends the request to deal_day_totals or to the deals and stays themselves."""
        rolled = (await tenant.get("/v1/kpis/sales", params={**both, "group_by": key})).json()
        read = (await tenant.get("/v1/kpis/sales", params={**both, "group_by": key,
                                                            "pipeline_id": pipeline["id"]})).json()
        assert rolled["groups"] == read["groups"] and rolled["totals"] == read["totals"]
        return {g["key"]: g["metrics"]["proposals_sent"] for g in rolled["groups"]}

    assert await proposals(**both, group_by="month") == (2, {"2026-01-01": 1, "2026-02-01": 2})
    assert await proposals(**both, group_by="owner") == (2, {ann: 1, ben: 1})
    assert await attributed("source") == {"web": 1, "referral": 1}
    assert await attributed("campaign") == {None: 1, spring: 1}
    await ok(await tenant.patch(f"/v1/users/{ann}", json={"team": "North"}))
    assert await attributed("team") == {"North": 1, None: 1}
    assert await attributed("owner") == {ann: 1, ben: 1}
    for key in ("pipeline", "month", "week", "day"):
        await attributed(key)
    assert await proposals(**both, group_by="day") == (2, {"2026-01-10": 1, "2026-02-01": 1, "2026-02-15": 1,
                                                           "2026-02-20": 1})
    assert await proposals(**both, group_by="week") == (2, {"2026-01-05": 1, "2026-01-26": 1, "2026-02-09": 1,
                                                            "2026-02-16": 1})
    assert (await proposals(**{"from": "2026-02-01", "to": "2026-02-28"}))[0] == 2
    assert (await proposals(**{"from": "2026-01-01", "to": "2026-01-31"}))[0] == 1
    assert (await proposals(**both, owner_id=ann))[0] == 1

    await ok(await tenant.patch(f"/v1/deals/{a}", json={"owner_id": ben, "source": "referral",
                                                         "campaign_id": spring}))
    await assert_exact(owner_engine, tenant)
    assert await proposals(**both, group_by="owner") == (2, {ben: 2})
    assert (await attributed("source"), await attributed("campaign")) == ({"referral": 2}, {spring: 2})
    await ok(await tenant.delete(f"/v1/deals/{b}"), 204)
    await assert_exact(owner_engine, tenant)
    assert await proposals(**both, group_by="month") == (1, {"2026-01-01": 1, "2026-02-01": 1})
    assert await attributed("source") == {"referral": 1}
    await ok(await tenant.post(f"/v1/deals/{b}/restore"))
    await execute(owner_engine, "DELETE FROM deal_stage_history WHERE deal_id = :d AND entered_at = :at",
                  d=_uuid(a), at=datetime(2026, 1, 10, 12, tzinfo=UTC))
    await assert_exact(owner_engine, tenant)
    assert await proposals(**both, group_by="month") == (2, {"2026-02-01": 2})

    # Another tenant's proposal stays never count here.
    od = (await make_deal(other, title="o", stage_id=o["New"]))["id"]
    await ok(await other.post(f"/v1/deals/{od}/move", json={"stage_id": o["Offer"]}))
    await assert_exact(owner_engine, other)
    assert (await proposals(**both))[0] == 2

    # The flag taken off the stage: no proposals; on again: back. A deal deleted outright takes its entries along.
    url = f"/v1/pipelines/{pipeline['id']}/stages/{st['Offer']}"
    await ok(await tenant.patch(url, json={"is_proposal": False}))
    await assert_exact(owner_engine, tenant)
    assert (await proposals(**both))[0] == 0 and await attributed("campaign") == {spring: 0}
    await ok(await tenant.patch(url, json={"is_proposal": True}))
    await assert_exact(owner_engine, tenant)
    assert (await proposals(**both))[0] == 2
    # A second proposal stage: New's stays (entered now) interleave with Offer's in each deal's order.
    new = f"/v1/pipelines/{pipeline['id']}/stages/{st['New']}"
    await ok(await tenant.patch(new, json={"is_proposal": True}))
    await assert_exact(owner_engine, tenant)
    await ok(await tenant.patch(new, json={"is_proposal": False}))
    await assert_exact(owner_engine, tenant)
    await execute(owner_engine, "DELETE FROM deals WHERE id = :d", d=_uuid(b))
    await assert_exact(owner_engine, tenant)
    assert await proposals(**both, group_by="owner") == (1, {ben: 1})
    await execute(owner_engine, "UPDATE tenants SET time_zone = 'UTC' WHERE id = :t", t=tenant.id)
    await assert_exact(owner_engine, tenant)
    assert await proposals(**both, group_by="month") == (1, {"2026-01-01": 1, "2026-02-01": 1})
    assert await attributed("source") == {"referral": 1}


CASE_ROLLUP = text("""
    SELECT kind, day, channel, sum(count) FROM case_day_totals WHERE tenant_id = :tenant
    GROUP BY 1, 2, 3 HAVING sum(count) <> 0""")
CASE_FRESH = text(f"""
    SELECT 'opened', (created_at {LOCAL}, channel, count(*) FROM cases
    WHERE tenant_id = :tenant AND deleted_at IS NULL GROUP BY 1, 2, 3
    UNION ALL
    SELECT 'breached', (LEAST(first_response_breached_at, resolution_breached_at) {LOCAL}, channel, count(*)
    FROM cases WHERE tenant_id = :tenant AND deleted_at IS NULL
      AND LEAST(first_response_breached_at, resolution_breached_at) IS NOT NULL GROUP BY 1, 2, 3""")


async def test_case_rollup_follows_every_write(make_tenant, other_tenant, owner_engine):
    tenant = await make_tenant("Berlin", time_zone="Europe/Berlin")

    async def exact(t):
        async with owner_engine.connect() as conn:
            kept, made = [{tuple(r[:3]): r[3] for r in (await conn.execute(q, {"tenant": t.id})).all()}
                          for q in (CASE_ROLLUP, CASE_FRESH)]
        assert kept == made
        return made

    cases = [(await created(tenant, "/v1/cases", subject=f"c{n}", channel=channel))["id"]
             for n, channel in enumerate(("email", "phone", "email"))]
    await created(other_tenant, "/v1/cases", subject="theirs", channel="email")
    # c0: 31 Jan 23:30 UTC (1 Feb in Berlin), breached 2 Feb (resolution) and 3 Feb (first response);
    # c1: 15 Jan, breached 20 Jan; c2: 10 Feb.
    for case, at, response, resolution in ((0, "2026-01-31T23:30Z", "2026-02-03T10:00Z", "2026-02-02T10:00Z"),
                                           (1, "2026-01-15T10:00Z", "2026-01-20T10:00Z", None),
                                           (2, "2026-02-10T10:00Z", None, None)):
        await execute(owner_engine, """UPDATE cases SET created_at = :c, first_response_breached_at = :f,
                                       resolution_breached_at = :r WHERE id = :i""",
                      c=datetime.fromisoformat(at), f=response and datetime.fromisoformat(response),
                      r=resolution and datetime.fromisoformat(resolution), i=_uuid(cases[case]))
    fresh = await exact(tenant)
    assert fresh[("breached", datetime(2026, 2, 2).date(), "email")] == 1

    async def service(**params):
        response = await tenant.get("/v1/kpis/service", params={"from": "2026-01-01", "to": "2026-02-28", **params})
        assert response.status_code == 200, response.text
        body = response.json()
        pick = ("cases_opened", "breached_cases", "cases_per_channel")
        return [body["totals"][k] for k in pick], {g["key"]: [g["metrics"][k] for k in pick] for g in body["groups"]}

    assert await service(group_by="month") == ([3, 2, {"email": 2, "phone": 1}], {
        "2026-01-01": [1, 1, {"phone": 1}], "2026-02-01": [2, 1, {"email": 2}]})
    assert (await service(**{"from": "2026-02-01"}))[0] == [2, 1, {"email": 2}]

    await ok(await tenant.patch(f"/v1/cases/{cases[1]}", json={"channel": "chat"}))
    await exact(tenant)
    await ok(await tenant.delete(f"/v1/cases/{cases[0]}"), 204)
    await exact(tenant)
    assert (await service())[0] == [2, 1, {"chat": 1, "email": 1}]
    await ok(await tenant.post(f"/v1/cases/{cases[0]}/restore"))
    await execute(owner_engine, "DELETE FROM cases WHERE id = :i", i=_uuid(cases[2]))
    await exact(tenant)
    assert await service(group_by="week") == ([2, 2, {"chat": 1, "email": 1}], {
        "2026-01-12": [1, 0, {"chat": 1}], "2026-01-19": [0, 1, {}], "2026-01-26": [1, 0, {"email": 1}],
        "2026-02-02": [0, 1, {}]})
    await execute(owner_engine, "UPDATE tenants SET time_zone = 'UTC' WHERE id = :t", t=tenant.id)
    fresh = await exact(tenant)
    assert ("opened", datetime(2026, 1, 31).date(), "email") in fresh
    assert (await exact(other_tenant)) != {}


async def test_rollups_exact_under_concurrent_writers(make_tenant, owner_engine):
    """Many writers at once (each its own transaction, shards by backend): the daily rollups stay exact."""
    tenant = await make_tenant("Berlin", time_zone="Europe/Berlin")
    s = stage_ids(await default_pipeline(tenant))
    deals = await asyncio.gather(*(make_deal(tenant, title=f"deal {n}", stage_id=s["Lead in"],
                                             amount={"amount": f"{n}.25", "currency": "EUR"}) for n in range(12)))
    writes = [tenant.post(f"/v1/deals/{d['id']}/move", json={"stage_id": s["Won"] if n % 3 else s["Proposal"]})
              for n, d in enumerate(deals)]
    writes += [tenant.post("/v1/activities", json={"type": "call", "direction": "outbound",
                                                    "occurred_at": f"2026-03-{n + 1:02d}T10:00:00Z"})
               for n in range(12)]
    writes += [tenant.post("/v1/cases", json={"subject": f"c{n}", "channel": "email"}) for n in range(8)]
    assert {r.status_code for r in await asyncio.gather(*writes)} <= {200, 201}
    activities, deals_fresh, *_ = await assert_exact(owner_engine, tenant)
    assert sum(v[0] for k, v in deals_fresh.items() if k[0] == "won") == 8
    assert sum(v[0] for k, v in deals_fresh.items() if k[0] == "proposal") == 4
    assert sum(v[0] for k, v in activities.items() if k[1] == "call") == 12
    async with owner_engine.connect() as conn:
        kept, made = [{tuple(r[:3]): r[3] for r in (await conn.execute(q, {"tenant": tenant.id})).all()}
                      for q in (CASE_ROLLUP, CASE_FRESH)]
    assert kept == made and sum(made.values()) == 8


async def test_country_follows_companies(make_tenant, owner_engine):
    """Deals and activities carry their company's country (company_country): the country rollups stay exact
    when a company's country changes, a record moves to another company, and a company is deleted outright;
    sales by country from the rollups equal the same request read from the records."""
    tenant = await make_tenant("Berlin", time_zone="Europe/Berlin")
    other = await make_tenant("Other")
    s = stage_ids(await default_pipeline(tenant))
    ann = (await created(tenant, "/v1/users", email="ann@example.com", name="Ann"))["id"]
    x = (await created(tenant, "/v1/companies", name="X", address={"country": "DE"}))["id"]
    y = (await created(tenant, "/v1/companies", name="Y"))["id"]
    theirs = (await created(other, "/v1/companies", name="X", address={"country": "DE"}))["id"]
    deals = [(await make_deal(tenant, title=f"d{n}", stage_id=s["Lead in"], owner_id=ann, company_id=company,
                              amount={"amount": "10", "currency": "EUR"}))["id"]
             for n, company in enumerate((x, x, y))]
    for deal, stage in ((deals[0], "Won"), (deals[1], "Proposal"), (deals[2], "Proposal")):
        await ok(await tenant.post(f"/v1/deals/{deal}/move", json={"stage_id": s[stage]}))
    call = await log(tenant, type="call", direction="outbound", occurred_at="2026-03-10T12:00:00Z", owner_id=ann,
                     company_id=x)
    await log(tenant, type="meeting", starts_at="2026-03-11T09:00:00Z", ends_at="2026-03-11T10:00:00Z",
              owner_id=ann, company_id=y)
    await make_deal(other, title="theirs", stage_id=stage_ids(await default_pipeline(other))["Lead in"],
                    company_id=theirs)
    fresh = await assert_exact(owner_engine, tenant)
    assert {k[3] for k in fresh[2] if k[2] == "country"} == {"DE", None}
    window = {"from": "2026-01-01", "to": (datetime.now(UTC) + timedelta(days=1)).date().isoformat()}

    async def by_country():
        """Sales by country from the rollups, and the same numbers (every metric) with the owner filter, which
        reads the deals, stays and activities themselves (every record here is Ann's)."""
        rolled = (await tenant.get("/v1/kpis/sales", params={**window, "group_by": "country"})).json()
        read = (await tenant.get("/v1/kpis/sales", params={**window, "group_by": "country", "owner_id": ann})).json()
        assert rolled["groups"] == read["groups"] and rolled["totals"] == read["totals"]
        return {g["key"]: (g["metrics"]["new_deals"], g["metrics"]["deals_won"], g["metrics"]["proposals_sent"],
                           g["metrics"]["calls_logged"], g["metrics"]["meetings_logged"]) for g in rolled["groups"]}

    assert await by_country() == {"DE": (2, 1, 1, 1, 0), None: (1, 0, 1, 0, 1)}
    await ok(await tenant.patch(f"/v1/companies/{x}", json={"address": {"country": "FR"}}))
    await ok(await other.patch(f"/v1/companies/{theirs}", json={"address": {"country": "IT"}}))
    await assert_exact(owner_engine, tenant)
    assert await by_country() == {"FR": (2, 1, 1, 1, 0), None: (1, 0, 1, 0, 1)}
    await ok(await tenant.patch(f"/v1/companies/{y}", json={"address": {"country": "ES"}}))
    await ok(await tenant.patch(f"/v1/deals/{deals[1]}", json={"company_id": y}))
    await ok(await tenant.patch(f"/v1/activities/{call}", json={"company_id": y}))
    await assert_exact(owner_engine, tenant)
    assert await by_country() == {"FR": (1, 1, 0, 0, 0), "ES": (2, 0, 2, 1, 1)}
    await execute(owner_engine, "DELETE FROM companies WHERE id = :i", i=_uuid(y))
    await assert_exact(owner_engine, tenant)
    assert await by_country() == {"FR": (1, 1, 0, 0, 0), None: (2, 0, 2, 1, 1)}
    await assert_exact(owner_engine, other)


LEAD_ROLLUP = text("""
    SELECT day, attribute, value, sum(count), sum(mql_count), sum(sql_count) FROM lead_attribution_day_totals
    WHERE tenant_id = :tenant GROUP BY 1, 2, 3 HAVING sum(count) <> 0 OR sum(mql_count) <> 0 OR sum(sql_count) <> 0""")
LEAD_FRESH = text(f"""
    SELECT (l.created_at {LOCAL}, a.attribute, a.value, count(*),
           count(*) FILTER (WHERE l.status IN ('mql', 'sql', 'converted')),
           count(*) FILTER (WHERE l.status IN ('sql', 'converted'))
    FROM leads l CROSS JOIN LATERAL (VALUES ('all', NULL), ('owner', l.owner_id::text), ('source', l.source),
                                            ('campaign', l.campaign_id::text)) AS a (attribute, value)
    WHERE l.tenant_id = :tenant AND l.deleted_at IS NULL GROUP BY 1, 2, 3""")


async def test_lead_rollup_follows_every_write(make_tenant, owner_engine):
    """lead_attribution_day_totals equals a fresh count after every kind of write, and sales' lead numbers from
    it equal those read from the leads (the owner filter reads the leads; every lead here is Ann's)."""
    tenant = await make_tenant("Berlin", time_zone="Europe/Berlin")
    other = await make_tenant("Other")
    ann = (await created(tenant, "/v1/users", email="ann@example.com", name="Ann"))["id"]
    spring = (await created(tenant, "/v1/campaigns", name="Spring", channel="email"))["id"]

    async def exact(t):
        async with owner_engine.connect() as conn:
            kept, made = [{tuple(r[:3]): tuple(r[3:]) for r in (await conn.execute(q, {"tenant": t.id})).all()}
                          for q in (LEAD_ROLLUP, LEAD_FRESH)]
        assert kept == made
        return made

    leads = [(await created(tenant, "/v1/leads", first_name=f"L{n}", owner_id=ann, **extra))["id"]
             for n, extra in enumerate(({"source": "web_form", "status": "mql"}, {"source": "referral"},
                                        {"campaign_id": spring, "status": "sql"}))]
    await created(other, "/v1/leads", first_name="Theirs", source="web_form")
    # L0 at 23:30 UTC on 31 January: 1 February in Berlin.
    await execute(owner_engine, "UPDATE leads SET created_at = '2026-01-31T23:30:00Z' WHERE id = :i", i=_uuid(leads[0]))
    await exact(tenant)
    window = {"from": "2026-01-01", "to": (datetime.now(UTC) + timedelta(days=1)).date().isoformat()}

    async def sales(key):
        rolled = (await tenant.get("/v1/kpis/sales", params={**window, "group_by": key})).json()
        read = (await tenant.get("/v1/kpis/sales", params={**window, "group_by": key, "owner_id": ann})).json()
        pick = ("new_leads", "leads_mql", "leads_sql")
        for body in (rolled, read):
            body["groups"] = {g["key"]: [g["metrics"][k] for k in pick] for g in body["groups"]}
            body["totals"] = [body["totals"][k] for k in pick]
        assert (rolled["totals"], rolled["groups"]) == (read["totals"], read["groups"])
        return rolled["totals"], rolled["groups"]

    assert (await sales("source"))[1] == {"web_form": [1, 1, 0], "referral": [1, 0, 0], None: [1, 1, 1]}
    assert (await sales("month"))[1]["2026-02-01"] == [1, 1, 0]
    for change in ({"status": "sql"}, {"source": "referral", "campaign_id": spring}, {"owner_id": None},
                   {"owner_id": ann}):
        await ok(await tenant.patch(f"/v1/leads/{leads[0]}", json=change))
        await exact(tenant)
    assert (await sales("campaign"))[1] == {spring: [2, 2, 2], None: [1, 0, 0]}
    await ok(await tenant.delete(f"/v1/leads/{leads[1]}"), 204)
    await exact(tenant)
    assert (await sales("owner"))[0] == [2, 2, 2]
    await ok(await tenant.post(f"/v1/leads/{leads[1]}/restore"))
    await execute(owner_engine, "DELETE FROM leads WHERE id = :i", i=_uuid(leads[2]))
    await exact(tenant)
    assert (await sales("team"))[0] == [2, 1, 1]
    await execute(owner_engine, "UPDATE tenants SET time_zone = 'UTC' WHERE id = :t", t=tenant.id)
    assert ("2026-01-31" in {str(k[0]) for k in await exact(tenant)})
    assert (await exact(other)) != {}


async def sales_report(app, tenant, zone: str, first, last, **filters):
    """/v1/kpis/sales as computed for a window in `zone`: in the tenant's own zone from the daily rollups; in
    another zone with the same local days ('Etc/UTC' for a tenant in 'UTC') from the records."""
    async with UnitOfWork(app.state.sessionmaker) as uow:
        await uow.set_tenant(tenant.id)
        return await SalesKpis(uow, Window(first, last, zone), **filters).compute()


async def test_scoped_rows_equal_the_records(app, make_tenant, owner_engine):
    """Sales by source, campaign or country with one filter (a pipeline or an owner) come from
    deal_scoped_day_totals (and one owner's calls and meetings by country from activity_owner_country_day_totals):
    the same numbers, every metric and group, as the request read from the deals, stays and activities, through
    owner, pipeline, source and company changes, a deleted user, trash and an outright delete."""
    tenant = await make_tenant("Scoped", time_zone="UTC")
    other = await make_tenant("Other")
    main = await default_pipeline(tenant)
    s = stage_ids(main)
    second = await make_pipeline(tenant, name="Second")
    t = stage_ids(second)
    await ok(await tenant.patch(f"/v1/pipelines/{second['id']}/stages/{t['Offer']}", json={"is_proposal": True}))
    ann, ben = [(await created(tenant, "/v1/users", email=f"{n}@example.com", name=n))["id"] for n in ("ann", "ben")]
    spring = (await created(tenant, "/v1/campaigns", name="Spring", channel="email"))["id"]
    de = (await created(tenant, "/v1/companies", name="X", address={"country": "DE"}))["id"]
    fr = (await created(tenant, "/v1/companies", name="Y", address={"country": "FR"}))["id"]
    plan = [  # pipeline, owner, source, campaign, company, amount, stages moved through
        (main, ann, "web", spring, de, ("100.50", "EUR"), ("Proposal", "Won")),
        (main, ben, "referral", None, fr, ("20", "USD"), ("Proposal", "Demo", "Proposal", "Lost")),
        (main, None, "web", None, None, None, ("Won",)),
        (second, ann, None, spring, fr, ("7.25", "EUR"), ("Offer", "Won")),
        (second, ben, "web", None, de, ("3", "EUR"), ("Offer",)),
        (second, ann, "event", None, None, None, ("Lost",)),
    ]
    deals = []
    for n, (pipeline, owner, source, campaign, company, amount, moves) in enumerate(plan):
        stages = s if pipeline is main else t
        deal = (await make_deal(tenant, title=f"d{n}", pipeline_id=pipeline["id"], stage_id=stages[
            "Lead in" if pipeline is main else "New"], owner_id=owner, source=source, campaign_id=campaign,
            company_id=company, **({"amount": {"amount": amount[0], "currency": amount[1]}} if amount else {})))["id"]
        for stage in moves:
            await ok(await tenant.post(f"/v1/deals/{deal}/move", json={
                "stage_id": stages[stage], **({"lost_note": "Price"} if stage == "Lost" else {})}))
        deals.append(deal)
    await log(tenant, type="call", direction="outbound", occurred_at="2026-03-10T12:00:00Z", owner_id=ann,
              company_id=de)
    meeting = await log(tenant, type="meeting", starts_at="2026-03-11T09:00:00Z", ends_at="2026-03-11T10:00:00Z",
                        owner_id=ben, company_id=fr)
    await log(tenant, type="call", direction="inbound", occurred_at="2026-04-01T08:00:00Z", owner_id=ann)
    await log(tenant, type="call", direction="inbound", occurred_at="2026-04-02T08:00:00Z", company_id=fr)
    # Spread over days: created in February and March, stays entered in March.
    for n, deal in enumerate(deals):
        await execute(owner_engine, "UPDATE deals SET created_at = :at WHERE id = :i", i=_uuid(deal),
                      at=datetime(2026, 2 + n % 2, 1 + n, 9, tzinfo=UTC))
        await execute(owner_engine, "UPDATE deal_stage_history SET entered_at = entered_at - interval '200 days' "
                                    "- :n * interval '1 day' WHERE deal_id = :i", i=_uuid(deal), n=n)
    await make_deal(other, title="theirs", stage_id=stage_ids(await default_pipeline(other))["Proposal"],
                    owner_id=None, source="web")
    first, last = datetime(2026, 1, 1).date(), (datetime.now(UTC) + timedelta(days=1)).date()

    async def same():
        """Every scoped request equal from the rollup and from the records; the rollup is exact."""
        await assert_exact(owner_engine, tenant)
        seen = 0
        for filters in ({"pipeline_id": uuid.UUID(main["id"])}, {"pipeline_id": uuid.UUID(second["id"])},
                        {"owner_id": uuid.UUID(ann)}, {"owner_id": uuid.UUID(ben)},
                        {"owner_id": uuid.UUID(ann), "pipeline_id": uuid.UUID(second["id"])},
                        {"owner_id": uuid.UUID(ben), "pipeline_id": uuid.UUID(main["id"])}):
            for group_by in ("source", "campaign", "country"):
                rolled = await sales_report(app, tenant, "UTC", first, last, group_by=group_by, **filters)
                read = await sales_report(app, tenant, "Etc/UTC", first, last, group_by=group_by, **filters)
                assert rolled == read, (filters, group_by)
                seen += len(rolled[1])
        return seen

    assert await same() > 20
    response = await tenant.get("/v1/kpis/sales", params={"from": "2026-01-01", "to": last.isoformat(),
                                                          "group_by": "source", "pipeline_id": main["id"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert {g["key"]: (g["metrics"]["new_deals"], g["metrics"]["deals_won"], g["metrics"]["proposals_sent"])
            for g in body["groups"]} == {"web": (2, 2, 1), "referral": (1, 0, 1)}
    web = next(g["metrics"] for g in body["groups"] if g["key"] == "web")
    assert web["new_revenue"] == [{"amount": "100.50", "currency": "EUR"}]
    # A deal changes owner, pipeline stage, source and company; another moves to the other pipeline.
    await ok(await tenant.patch(f"/v1/deals/{deals[1]}", json={"owner_id": ann, "source": "event",
                                                               "company_id": de}))
    await ok(await tenant.patch(f"/v1/deals/{deals[2]}", json={"owner_id": ben, "campaign_id": spring}))
    await ok(await tenant.post(f"/v1/deals/{deals[4]}/move", json={"stage_id": s["Proposal"]}))
    await ok(await tenant.patch(f"/v1/companies/{fr}", json={"address": {"country": "IT"}}))
    await same()
    await ok(await tenant.patch(f"/v1/activities/{meeting}", json={"owner_id": ann}))
    await same()
    await ok(await tenant.patch(f"/v1/activities/{meeting}", json={"owner_id": ben}))
    # Ben deleted: his deals have no owner (only their pipeline scope); trash, restore, an outright delete.
    await execute(owner_engine, "DELETE FROM users WHERE id = :i", i=_uuid(ben))
    await same()
    await ok(await tenant.delete(f"/v1/deals/{deals[0]}"), 204)
    await same()
    await ok(await tenant.post(f"/v1/deals/{deals[0]}/restore"))
    await execute(owner_engine, "DELETE FROM deals WHERE id = :i", i=_uuid(deals[3]))
    await same()
    await execute(owner_engine, "UPDATE tenants SET time_zone = 'Asia/Tokyo' WHERE id = :t", t=tenant.id)
    await assert_exact(owner_engine, tenant)
    await assert_exact(owner_engine, other)
