"""KPIs on a small hand-built data set in America/New_York (UTC-5 in January): every answer below is worked
out by hand from /v1/kpis/definitions. Rows are backdated as the owner, so the periods hold what we say."""

import uuid
from datetime import datetime

import pytest

from crm_api.kpis.definitions import SERVICE_SERIES
from tests.kit.rows import assert_problem, error_fields, execute
from tests.pipelines.helpers import created

JAN = {"from": "2026-01-01", "to": "2026-01-31"}  # [2026-01-01T05:00Z, 2026-02-01T05:00Z)


def usd(amount):
    return {"amount": amount, "currency": "USD"}


def eur(amount):
    return {"amount": amount, "currency": "EUR"}


def _value(value):
    if isinstance(value, str) and value.endswith("Z") and "T" in value:
        return datetime.fromisoformat(value)
    if isinstance(value, str) and len(value) == 36:
        return uuid.UUID(value)
    return value


async def sql(owner_engine, statement, **params):
    """Run `statement` as the owner; ISO times and ids given as text are typed first."""
    await execute(owner_engine, statement, **{k: _value(v) for k, v in params.items()})


async def move(tenant, deal, stage, **body):
    response = await tenant.post(f"/v1/deals/{deal}/move", json={"stage_id": stage, **body})
    assert response.status_code == 200, response.text


async def stay(owner_engine, deal, stage, entered, left=None):
    await sql(owner_engine, "UPDATE deal_stage_history SET entered_at = :e, left_at = :l "
                            "WHERE deal_id = :d AND stage_id = :s", d=deal, s=stage, e=entered, l=left)


@pytest.fixture
async def data(make_tenant, owner_engine):
    """The data set; returns the tenant and the ids the answers name."""
    t = await make_tenant("New York", currency="USD", time_zone="America/New_York")
    alice = (await created(t, "/v1/users", email="alice@example.com", name="Alice"))["id"]
    bob = (await created(t, "/v1/users", email="bob@example.com", name="Bob"))["id"]
    pipeline = await created(t, "/v1/pipelines", name="Sales", stages=[
        {"name": "New", "probability": 10}, {"name": "Offer", "probability": 50, "is_proposal": True},
        {"name": "Won", "kind": "won"}, {"name": "Lost", "kind": "lost"}])
    st = {s["name"]: s["id"] for s in pipeline["stages"]}
    x = (await created(t, "/v1/companies", name="X"))["id"]
    y = (await created(t, "/v1/companies", name="Y"))["id"]
    spring = (await created(t, "/v1/campaigns", name="Spring", channel="email", cost=usd("1000")))["id"]

    # Leads: L3 falls on 31 Dec local, L2 on 31 Jan local (1 Feb in UTC).
    leads = {}
    for name, owner, extra, at in [
        ("L1", alice, {"source": "web_form", "status": "mql", "campaign_id": spring}, "2026-01-01T05:00Z"),
        ("L2", bob, {"source": "referral", "status": "sql"}, "2026-02-01T04:59Z"),
        ("L3", alice, {}, "2026-01-01T04:59Z"),
        ("L4", alice, {"campaign_id": spring}, "2026-01-15T12:00Z"),
    ]:
        leads[name] = (await created(t, "/v1/leads", first_name=name, owner_id=owner, **extra))["id"]
        await sql(owner_engine, "UPDATE leads SET created_at = :c WHERE id = :i", c=at, i=leads[name])

    async def deal(title, owner, amount, created_at, company=None, pipeline_id=pipeline["id"], stage=st["New"],
                   **extra):
        body = {"title": title, "owner_id": owner, "amount": amount, "pipeline_id": pipeline_id, **extra}
        if stage:
            body["stage_id"] = stage
        if company:
            body["company_id"] = company
        d = (await created(t, "/v1/deals", **body))["id"]
        await sql(owner_engine, "UPDATE deals SET created_at = :c WHERE id = :i", c=created_at, i=d)
        return d

    # Renewals: D1 (won in January), D3 (lost in January), D6 (won in 2025).
    d1 = await deal("D1", alice, usd("1000"), "2026-01-05T12:00Z", x, campaign_id=spring, source="web_form",
                    is_renewal=True)
    await move(t, d1, st["Offer"])
    await move(t, d1, st["Won"])
    await stay(owner_engine, d1, st["New"], "2026-01-05T12:00Z", "2026-01-10T12:00Z")
    await stay(owner_engine, d1, st["Offer"], "2026-01-10T12:00Z", "2026-01-20T12:00Z")
    await stay(owner_engine, d1, st["Won"], "2026-01-20T12:00Z")
    await sql(owner_engine, "UPDATE deals SET won_at = '2026-01-20T12:00Z' WHERE id = :i", i=d1)

    d2 = await deal("D2", bob, eur("500"), "2025-12-10T04:00Z", y)
    await move(t, d2, st["Won"])
    await stay(owner_engine, d2, st["New"], "2025-12-10T04:00Z", "2026-02-01T04:00Z")
    await stay(owner_engine, d2, st["Won"], "2026-02-01T04:00Z")
    await sql(owner_engine, "UPDATE deals SET won_at = '2026-02-01T04:00Z' WHERE id = :i", i=d2)

    d3 = await deal("D3", alice, usd("300"), "2026-01-10T12:00Z", is_renewal=True)
    await move(t, d3, st["Lost"], lost_note="Budget")
    await stay(owner_engine, d3, st["New"], "2026-01-10T12:00Z", "2026-01-25T12:00Z")
    await stay(owner_engine, d3, st["Lost"], "2026-01-25T12:00Z")
    await sql(owner_engine, "UPDATE deals SET lost_at = '2026-01-25T12:00Z' WHERE id = :i", i=d3)

    d4 = await deal("D4", alice, usd("200"), "2026-01-12T12:00Z")
    await stay(owner_engine, d4, st["New"], "2026-01-12T12:00Z")

    d5 = await deal("D5", bob, usd("400"), "2025-11-01T12:00Z")
    await move(t, d5, st["Offer"])
    await stay(owner_engine, d5, st["New"], "2025-11-01T12:00Z", "2025-11-05T12:00Z")
    await stay(owner_engine, d5, st["Offer"], "2025-11-05T12:00Z")

    # D6: X's first won deal, in June 2025 and in the default pipeline (X buys in two pipelines).
    default = next(p for p in (await t.get("/v1/pipelines")).json()["data"] if p["is_default"])
    won = next(s["id"] for s in default["stages"] if s["kind"] == "won")
    d6 = await deal("D6", alice, usd("700"), "2025-06-01T12:00Z", x, pipeline_id=default["id"], stage=won,
                    is_renewal=True)
    await sql(owner_engine, "UPDATE deals SET won_at = '2025-06-30T12:00Z' WHERE id = :i", i=d6)
    await sql(owner_engine, "UPDATE deal_stage_history SET entered_at = '2025-06-01T12:00Z' WHERE deal_id = :i",
              i=d6)

    await sql(owner_engine, "UPDATE leads SET status = 'converted', converted_deal_id = :d WHERE id = :i",
              d=d1, i=leads["L1"])

    # Activities: a call in January, a call on 31 Dec (18:00 local), a meeting.
    call = {"type": "call", "direction": "outbound", "owner_id": alice}
    for body in [{**call, "occurred_at": "2026-01-03T15:00:00Z", "subject": "c1"},
                 {**call, "occurred_at": "2025-12-31T23:00:00Z", "subject": "c2"},
                 {"type": "meeting", "owner_id": alice, "starts_at": "2026-01-21T15:00:00Z",
                  "ends_at": "2026-01-21T16:00:00Z", "subject": "m1"}]:
        a = await created(t, "/v1/activities", **body)
        await sql(owner_engine, "UPDATE activities SET created_at = coalesce(occurred_at, starts_at) "
                                "WHERE id = :i", i=a["id"])

    # Contacts with the subscriber stage: one before January, one in it.
    for at in ("2025-12-15T12:00Z", "2026-01-20T12:00Z"):
        c = await created(t, "/v1/contacts", first_name="S", lifecycle_stage="subscriber")
        await sql(owner_engine, "UPDATE contacts SET created_at = :c WHERE id = :i", c=at, i=c["id"])

    # Cases (C2: created 22:00 on 9 Jan local, resolved 10 Jan: not the same local day though the same UTC day).
    policy = await created(t, "/v1/sla-policies", name="Standard", targets={
        "normal": {"first_response_minutes": 120, "resolution_minutes": 960}})
    # The SLA clock's readings (business seconds less pauses) count where a policy applies: C1 answered after
    # 1 h and resolved after 2 h on the clock (2 h and 6 h of calendar time), C2 after 3 h and 8 h (4 h, 10 h);
    # C4 has no policy, so its reading is ignored and calendar time counts.
    for channel, created_at, responded, resolved, sla, clock, breached, reopened, score, rated in [
        ("email", "2026-01-05T14:00Z", "2026-01-05T16:00Z", "2026-01-05T20:00Z", True, (3600, 7200), None, 0, None,
         None),
        ("phone", "2026-01-10T03:00Z", "2026-01-10T07:00Z", "2026-01-10T13:00Z", True, (10800, 28800),
         "2026-01-10T11:00Z", 1, 4, "2026-01-11T12:00Z"),
        ("email", "2026-01-31T12:00Z", None, None, False, (None, None), None, 0, None, None),
        ("email", "2025-12-20T12:00Z", "2025-12-20T13:00Z", "2026-01-02T12:00Z", False, (1, 1), None, 0, 2,
         "2026-01-03T12:00Z"),
    ]:
        case = await created(t, "/v1/cases", subject="Help", channel=channel)
        await sql(owner_engine, """UPDATE cases SET created_at = :c, first_response_at = :f, resolved_at = :r,
                                   sla_policy_id = :p, resolution_breached_at = :b, first_response_breached_at = NULL,
                                   reopened_count = :o, satisfaction_score = :s, satisfaction_at = :sa,
                                   first_response_seconds = :fs, resolution_seconds = :rs
                                   WHERE id = :i""",
                  c=created_at, f=responded, r=resolved, p=policy["id"] if sla else None, b=breached, o=reopened,
                  s=score, sa=rated, fs=clock[0], rs=clock[1], i=case["id"])
    return {"t": t, "alice": alice, "bob": bob, "pipeline": pipeline["id"], "st": st, "spring": spring}


async def kpi(t, path, **params):
    response = await t.get(f"/v1/kpis/{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_sales_totals(data):
    body = await kpi(data["t"], "sales", **JAN)
    assert body["period"] == {"from": "2026-01-01", "to": "2026-01-31", "time_zone": "America/New_York"}
    assert body["totals"] == {
        "new_leads": 3, "leads_mql": 2, "leads_sql": 2, "qualification_rate": "0.6667",
        "new_deals": 3, "deals_won": 2, "deals_lost": 1, "win_rate": "0.6667", "close_rate": "0.3333",
        "new_revenue": [eur("500.00"), usd("1000.00")], "average_deal_size": [eur("500.00"), usd("1000.00")],
        "average_sales_cycle_days": "34.00",
        "open_deals": 2, "open_pipeline_value": [usd("600.00")], "weighted_pipeline_value": [usd("220.00")],
        "proposals_sent": 1, "calls_logged": 1, "meetings_logged": 1, "meetings_per_won_deal": "0.5000",
        "new_customers": 1, "retained_customers": 1, "renewal_rate": "0.5000", "converted": None,
    }
    assert body["groups"] == []


async def test_sales_filters_and_groups(data):
    t, alice, bob = data["t"], data["alice"], data["bob"]
    by_owner = await kpi(t, "sales", group_by="owner", **JAN)
    groups = {g["key"]: g["metrics"] for g in by_owner["groups"]}
    assert set(groups) == {alice, bob}
    a, b = groups[alice], groups[bob]
    assert (a["new_leads"], a["leads_mql"], a["new_deals"], a["deals_won"], a["deals_lost"], a["win_rate"]) == (
        2, 1, 3, 1, 1, "0.5000")
    assert (a["new_revenue"], a["open_deals"], a["weighted_pipeline_value"], a["calls_logged"]) == (
        [usd("1000.00")], 1, [usd("20.00")], 1)
    assert (b["new_leads"], b["new_deals"], b["deals_won"], b["win_rate"], b["close_rate"], b["calls_logged"]) == (
        1, 0, 1, "1.0000", None, 0)
    assert a["new_customers"] is None  # customers are not by owner
    assert (a["renewal_rate"], b["renewal_rate"]) == ("0.5000", None)  # D1 won, D3 lost; Bob closed no renewal
    assert by_owner["totals"]["new_leads"] == 3
    only_alice = (await kpi(t, "sales", owner_id=alice, **JAN))["totals"]
    assert {k: only_alice[k] for k in ("new_leads", "deals_won", "calls_logged", "open_deals")} == {
        "new_leads": 2, "deals_won": 1, "calls_logged": 1, "open_deals": 1}
    in_pipeline = (await kpi(t, "sales", pipeline_id=data["pipeline"], **JAN))["totals"]
    assert (in_pipeline["new_deals"], in_pipeline["retained_customers"], in_pipeline["new_customers"]) == (3, 0, 2)
    # Months are local: L2 (1 Feb 04:59 UTC) and D2 (won 1 Feb 04:00 UTC) belong to January.
    by_month = await kpi(t, "sales", group_by="month", **JAN)
    [january] = by_month["groups"]
    assert january["key"] == "2026-01-01"
    assert (january["metrics"]["new_leads"], january["metrics"]["deals_won"], january["metrics"]["open_deals"]) \
        == (3, 2, None)
    # By source (not in the deal rollup's key): deals read from their table, activities in the totals only.
    by_source = await kpi(t, "sales", group_by="source", **JAN)
    web = {g["key"]: g["metrics"] for g in by_source["groups"]}["web_form"]
    assert (web["new_leads"], web["new_deals"], web["deals_won"], web["proposals_sent"], web["calls_logged"]) == (
        1, 1, 1, 1, None)
    assert (by_source["totals"]["calls_logged"], by_source["totals"]["meetings_logged"]) == (1, 1)


async def test_period_boundaries_in_the_tenant_time_zone(data):
    t = data["t"]
    first_day = (await kpi(t, "sales", **{"from": "2026-01-01", "to": "2026-01-01"}))["totals"]
    assert first_day["new_leads"] == 1  # L1 at 00:00 local; L3 at 23:59 the day before
    last_day = (await kpi(t, "sales", **{"from": "2026-01-31", "to": "2026-01-31"}))["totals"]
    assert (last_day["new_leads"], last_day["deals_won"]) == (1, 1)  # L2 and D2, in February in UTC
    december = (await kpi(t, "sales", **{"from": "2025-12-01", "to": "2025-12-31"}))["totals"]
    assert (december["new_leads"], december["calls_logged"]) == (1, 1)


async def test_empty_period(data):
    body = (await kpi(data["t"], "sales", **{"from": "2020-01-01", "to": "2020-01-31"}))["totals"]
    assert body == {
        "new_leads": 0, "leads_mql": 0, "leads_sql": 0, "qualification_rate": None, "new_deals": 0, "deals_won": 0,
        "deals_lost": 0, "win_rate": None, "close_rate": None, "new_revenue": [], "average_deal_size": [],
        "average_sales_cycle_days": None, "open_deals": 2, "open_pipeline_value": [usd("600.00")],
        "weighted_pipeline_value": [usd("220.00")], "proposals_sent": 0, "calls_logged": 0, "meetings_logged": 0,
        "meetings_per_won_deal": None, "new_customers": 0, "retained_customers": 0, "renewal_rate": None,
        "converted": None}
    service = (await kpi(data["t"], "service", **{"from": "2020-01-01", "to": "2020-01-31"}))["totals"]
    assert (service["cases_opened"], service["same_day_resolution_rate"], service["csat_average"],
            service["cases_per_channel"]) == (0, None, None, {})


async def test_timeseries(data):
    body = await kpi(data["t"], "timeseries", metric="new_leads", interval="week", **JAN)
    assert [(p["start"], p["value"]) for p in body["data"]] == [
        ("2025-12-29", 1), ("2026-01-05", 0), ("2026-01-12", 1), ("2026-01-19", 0), ("2026-01-26", 1)]
    revenue = await kpi(data["t"], "timeseries", metric="new_revenue", interval="month", **JAN)
    assert revenue["data"] == [{"start": "2026-01-01", "value": [eur("500.00"), usd("1000.00")]}]
    cases = await kpi(data["t"], "timeseries", metric="cases_opened", interval="day",
                      **{"from": "2026-01-09", "to": "2026-01-10"})
    assert [p["value"] for p in cases["data"]] == [1, 0]  # C2 opened at 22:00 on 9 Jan local


async def test_service_timeseries_equal_the_report(data):
    """A service metric's series runs only the statements that metric needs: each equals the report's groups."""
    groups = {g["key"]: g["metrics"] for g in (await kpi(data["t"], "service", group_by="week", **JAN))["groups"]}
    checked = set()
    for metric in sorted(SERVICE_SERIES):
        series = await kpi(data["t"], "timeseries", metric=metric, interval="week", **JAN)
        for point in series["data"]:
            if point["start"] in groups:
                assert point["value"] == groups[point["start"]][metric], (metric, point["start"])
                if point["value"] not in (None, 0, {}):
                    checked.add(metric)
    assert checked >= {"cases_opened", "cases_resolved", "median_resolution_hours", "median_first_response_hours",
                       "csat_responses"}


async def test_funnel(data):
    body = await kpi(data["t"], "funnel", pipeline_id=data["pipeline"], **JAN)
    assert [(s["name"], s["entered"], s["conversion_to_next"], s["average_days"], s["median_days"])
            for s in body["stages"]] == [
        ("New", 3, "0.3333", "10.00", "10.00"), ("Offer", 1, "1.0000", "10.00", "10.00"),
        ("Won", 2, None, None, None), ("Lost", 1, None, None, None)]


async def test_service(data):
    body = await kpi(data["t"], "service", **JAN)
    assert body["totals"] == {
        "cases_opened": 3, "cases_resolved": 3, "same_day_resolution_rate": "0.3333",
        "average_first_response_hours": "2.00", "median_first_response_hours": "2.00",
        "average_resolution_hours": "107.33", "median_resolution_hours": "8.00", "sla_compliance_rate": "0.5000",
        "breached_cases": 1, "reopen_rate": "0.3333", "csat_average": "3.00", "csat_responses": 2,
        "cases_per_channel": {"email": 2, "phone": 1}}
    by_day = await kpi(data["t"], "service", group_by="day", **JAN)
    assert {g["key"]: g["metrics"]["cases_opened"] for g in by_day["groups"] if g["metrics"]["cases_opened"]} == {
        "2026-01-05": 1, "2026-01-09": 1, "2026-01-31": 1}


async def test_leaderboard(data):
    body = await kpi(data["t"], "leaderboard", **JAN)
    assert [(r["name"], r["deals_won"], r["win_rate"], r["won_revenue"], r["activities_logged"])
            for r in body["data"]] == [("Alice", 1, "0.5000", [usd("1000.00")], 2),
                                       ("Bob", 1, "1.0000", [eur("500.00")], 0)]


async def test_marketing(data):
    body = await kpi(data["t"], "marketing", **JAN)
    assert body["campaigns"] == [
        {"key": data["spring"], "name": "Spring", "leads": 2, "conversions": 1, "revenue": [usd("1000.00")],
         "cost": usd("1000.00"), "cost_per_lead": usd("500.00"), "roi": "0.0000", "converted": None},
        {"key": None, "name": None, "leads": 1, "conversions": 0, "revenue": [eur("500.00")], "cost": None,
         "cost_per_lead": None, "roi": None, "converted": None}]
    assert [(s["key"], s["leads"], s["conversions"], s["revenue"]) for s in body["sources"]] == [
        ("referral", 1, 0, []), ("web_form", 1, 1, [usd("1000.00")]), (None, 1, 0, [eur("500.00")])]
    assert body["customer_lifetime_value"] == [eur("500.00"), usd("1700.00")]
    assert (body["cross_sell_rate"], body["subscribers_added"], body["subscribers_total"],
            body["subscriber_growth_rate"]) == ("0.5000", 1, 2, "1.0000")
    # Leads and revenue come from the daily rollups; with an owner filter from the leads and deals: summed over
    # the owners, the same numbers.
    summed = {}
    for owner in (data["alice"], data["bob"]):
        for row in (await kpi(data["t"], "marketing", **JAN, owner_id=owner))["campaigns"]:
            leads, conversions, revenue = summed.get(row["key"], (0, 0, []))
            summed[row["key"]] = (leads + row["leads"], conversions + row["conversions"], revenue + row["revenue"])
    assert summed == {c["key"]: (c["leads"], c["conversions"], c["revenue"]) for c in body["campaigns"]}


async def test_tenants_are_never_mixed(data, other_tenant):
    await created(other_tenant, "/v1/leads", first_name="Other")
    await created(other_tenant, "/v1/deals", title="Other", amount={"amount": "9"})
    totals = (await kpi(other_tenant, "sales", **{"from": "2020-01-01", "to": "2029-12-31"}))["totals"]
    assert (totals["new_leads"], totals["new_deals"], totals["open_deals"], totals["calls_logged"]) == (1, 1, 1, 0)
    assert (await kpi(data["t"], "sales", **JAN))["totals"]["new_leads"] == 3
    board = await kpi(other_tenant, "leaderboard", **JAN)
    assert board["data"] == []
    assert_problem(await other_tenant.get("/v1/kpis/funnel", params={"pipeline_id": data["pipeline"], **JAN}), 422)


@pytest.mark.parametrize(("path", "params", "field"), [
    ("sales", {"from": "2026-02-01", "to": "2026-01-01"}, "to"), ("sales", {"to": "2026-01-01"}, "from"),
    ("sales", {**JAN, "group_by": "colour"}, "group_by"), ("sales", {**JAN, "colour": "x"}, "colour"),
    ("sales", {"from": "2026-13-01", "to": "2026-01-01"}, "from"), ("service", {**JAN, "group_by": "pipeline"},
                                                                    "group_by"),
    ("timeseries", {**JAN, "metric": "open_deals"}, "metric"), ("timeseries", {**JAN, "metric": "x"}, "metric"),
    ("timeseries", {**JAN, "metric": "new_leads", "interval": "year"}, "interval"),
    ("funnel", {**JAN, "pipeline_id": str(uuid.uuid4())}, "pipeline_id"),
])
async def test_bad_parameters_are_422(tenant, path, params, field):
    response = await tenant.get(f"/v1/kpis/{path}", params=params)
    assert_problem(response, 422)
    assert any(field in f for f in error_fields(response)), error_fields(response)


async def test_scopes_and_definitions(tenant):
    reader = await tenant.with_scopes("kpis:read")
    assert (await reader.get("/v1/kpis/sales", params=JAN)).status_code == 200
    other = await tenant.with_scopes("deals:read")
    for path in ("sales", "funnel", "marketing", "service", "leaderboard", "definitions"):
        assert_problem(await other.get(f"/v1/kpis/{path}", params=JAN if path != "definitions" else None), 403)
    definitions = (await reader.get("/v1/kpis/definitions")).json()["data"]
    names = {d["name"] for d in definitions}
    sales = (await reader.get("/v1/kpis/sales", params=JAN)).json()["totals"]
    service = (await reader.get("/v1/kpis/service", params=JAN)).json()["totals"]
    assert set(sales) | set(service) <= names
    assert all(d["unit"] and d["definition"] and d["empty"] for d in definitions)


async def test_renewal_marker_on_deals(tenant):
    plain = await created(tenant, "/v1/deals", title="New business")
    renewal = await created(tenant, "/v1/deals", title="Renewal", is_renewal=True)
    assert (plain["is_renewal"], renewal["is_renewal"]) == (False, True)
    listed = (await tenant.get("/v1/deals", params={"is_renewal": "true"})).json()["data"]
    assert [d["id"] for d in listed] == [renewal["id"]]
    cleared = await tenant.patch(f"/v1/deals/{renewal['id']}", json={"is_renewal": None})
    assert cleared.status_code == 200 and cleared.json()["is_renewal"] is False
    assert_problem(await tenant.patch(f"/v1/deals/{plain['id']}", json={"is_renewal": "maybe"}), 422)
    assert_problem(await tenant.get("/v1/deals", params={"is_renewal": "maybe"}), 422)


async def test_money_converted_with_the_tenants_exchange_rates(data, other_tenant):
    t = data["t"]  # default currency USD; January revenue 1000 USD + 500 EUR, open 600 USD (weighted 220)
    assert (await t.get("/v1/exchange-rates")).json() == {"base_currency": "USD", "data": []}
    response = await t.request("PUT", "/v1/exchange-rates/GBP", json={"rate": "1.27"})
    assert response.status_code == 200, response.text
    # GBP is set but EUR is not: a figure holding euros cannot be converted; one in dollars only can.
    converted = (await kpi(t, "sales", **JAN))["totals"]["converted"]
    assert converted == {"new_revenue": None, "average_deal_size": None, "open_pipeline_value": usd("600.00"),
                         "weighted_pipeline_value": usd("220.00")}
    response = await t.request("PUT", "/v1/exchange-rates/EUR", json={"rate": "1.0850"})
    assert response.json()["rate"] == "1.085"
    converted = (await kpi(t, "sales", **JAN))["totals"]["converted"]
    # 1000 + 500 x 1.085 = 1542.50, over the 2 won deals with an amount: 771.25.
    assert converted == {"new_revenue": usd("1542.50"), "average_deal_size": usd("771.25"),
                         "open_pipeline_value": usd("600.00"), "weighted_pipeline_value": usd("220.00")}
    board = (await kpi(t, "leaderboard", **JAN))["data"]
    assert [(r["name"], r["won_revenue_converted"]) for r in board] == [("Alice", usd("1000.00")),
                                                                        ("Bob", usd("542.50"))]
    listed = (await t.get("/v1/exchange-rates")).json()
    assert [(r["currency"], r["rate"]) for r in listed["data"]] == [("EUR", "1.085"), ("GBP", "1.27")]
    # Another tenant neither sees nor removes these rates.
    assert (await other_tenant.get("/v1/exchange-rates")).json()["data"] == []
    assert_problem(await other_tenant.delete("/v1/exchange-rates/EUR"), 404)
    assert (await t.delete("/v1/exchange-rates/EUR")).status_code == 204
    assert_problem(await t.delete("/v1/exchange-rates/EUR"), 404)
    assert (await kpi(t, "sales", **JAN))["totals"]["converted"]["new_revenue"] is None


@pytest.mark.parametrize(("currency", "body", "field"), [
    ("EUR", {"rate": "0"}, "rate"), ("EUR", {"rate": "-1.5"}, "rate"), ("EUR", {"rate": "abc"}, "rate"),
    ("EUR", {}, "rate"), ("QQQ", {"rate": "1"}, "currency"), ("EUR", {"rate": "1", "base": "x"}, "base"),
])
async def test_bad_exchange_rates_are_422(tenant, currency, body, field):
    response = await tenant.request("PUT", f"/v1/exchange-rates/{currency}", json=body)
    assert_problem(response, 422)
    assert any(field in f for f in error_fields(response)), error_fields(response)


async def test_exchange_rates_scopes_and_the_default_currency(tenant):
    default = (await tenant.get("/v1/exchange-rates")).json()["base_currency"]
    assert_problem(await tenant.request("PUT", f"/v1/exchange-rates/{default}", json={"rate": "2"}), 422)
    reader = await tenant.with_scopes("kpis:read")
    assert (await reader.get("/v1/exchange-rates")).status_code == 200
    assert_problem(await reader.request("PUT", "/v1/exchange-rates/JPY", json={"rate": "0.0061"}), 403)
    assert_problem(await reader.delete("/v1/exchange-rates/JPY"), 403)
    assert_problem(await (await tenant.with_scopes("deals:read")).get("/v1/exchange-rates"), 403)


async def test_sales_by_team_and_country(data):
    t = data["t"]
    assert (await t.patch(f"/v1/users/{data['alice']}", json={"team": "East"})).json()["team"] == "East"
    companies = {c["name"]: c["id"] for c in (await t.get("/v1/companies")).json()["data"]}
    for name, country in (("X", "DE"), ("Y", "FR")):
        response = await t.patch(f"/v1/companies/{companies[name]}", json={"address": {"country": country}})
        assert response.status_code == 200, response.text

    # Alice is in East, Bob in no team: the team groups are the owner groups here.
    teams = {g["key"]: g["metrics"] for g in (await kpi(t, "sales", group_by="team", **JAN))["groups"]}
    assert set(teams) == {"East", None}
    east, none = teams["East"], teams[None]
    assert (east["new_leads"], east["new_deals"], east["deals_won"], east["deals_lost"], east["new_revenue"],
            east["open_deals"], east["calls_logged"], east["meetings_logged"], east["proposals_sent"]) == (
        2, 3, 1, 1, [usd("1000.00")], 1, 1, 1, 1)
    assert (none["new_leads"], none["new_deals"], none["deals_won"], none["new_revenue"], none["open_deals"]) == (
        1, 0, 1, [eur("500.00")], 1)

    # Countries of the deals' companies: D1 (X, DE) created, moved to Offer and won in January; D2 (Y, FR) won
    # on 31 January local; D3 and D4 have no company. Leads and open deals are not split by country.
    countries = {g["key"]: g["metrics"] for g in (await kpi(t, "sales", group_by="country", **JAN))["groups"]}
    assert set(countries) == {"DE", "FR", None}
    de, fr, unknown = countries["DE"], countries["FR"], countries[None]
    assert (de["new_deals"], de["deals_won"], de["new_revenue"], de["proposals_sent"], de["win_rate"]) == (
        1, 1, [usd("1000.00")], 1, "1.0000")
    assert (fr["new_deals"], fr["deals_won"], fr["new_revenue"]) == (0, 1, [eur("500.00")])
    assert (unknown["new_deals"], unknown["deals_lost"], unknown["calls_logged"]) == (2, 1, 1)
    assert (de["new_leads"], de["open_deals"], de["new_customers"]) == (None, None, None)


async def test_marketing_money_converted_with_the_tenants_exchange_rates(data):
    t = data["t"]  # default USD. Spring: D1 won 1000 USD, 2 leads; no campaign: D2 won 500 EUR. X: 1700 USD, Y: 500 EUR
    body = await kpi(t, "marketing", **JAN)
    assert body["customer_lifetime_value_converted"] is None
    assert [c["converted"] for c in body["campaigns"]] == [None, None]
    assert (await t.request("PUT", "/v1/exchange-rates/GBP", json={"rate": "1.27"})).status_code == 200
    body = await kpi(t, "marketing", **JAN)
    # Euros have no rate yet: what holds euros is null, what is in dollars only converts.
    assert body["customer_lifetime_value_converted"] is None
    assert [c["converted"] for c in body["campaigns"]] == [
        {"revenue": usd("1000.00"), "cost": usd("1000.00"), "cost_per_lead": usd("500.00"), "roi": "0.0000"},
        {"revenue": None, "cost": None, "cost_per_lead": None, "roi": None}]
    assert (await t.request("PUT", "/v1/exchange-rates/EUR", json={"rate": "1.085"})).status_code == 200
    response = await t.patch(f"/v1/campaigns/{data['spring']}", json={"cost": eur("800")})
    assert response.status_code == 200, response.text
    body = await kpi(t, "marketing", **JAN)
    # Spring's cost 800 EUR = 868.00 USD over 2 leads = 434.00; ROI (1000 - 868) / 868 = 0.15207 -> 0.1521,
    # while the unconverted ROI sees no revenue in euros: (0 - 800) / 800.
    spring, none = body["campaigns"]
    assert (spring["roi"], spring["converted"]) == ("-1.0000", {
        "revenue": usd("1000.00"), "cost": usd("868.00"), "cost_per_lead": usd("434.00"), "roi": "0.1521"})
    assert none["converted"] == {"revenue": usd("542.50"), "cost": None, "cost_per_lead": None, "roi": None}
    sources = {s["key"]: s["converted"]["revenue"] for s in body["sources"]}
    assert sources == {"referral": usd("0.00"), "web_form": usd("1000.00"), None: usd("542.50")}
    # (1700 + 500 x 1.085) / 2 companies = 1121.25.
    assert body["customer_lifetime_value_converted"] == usd("1121.25")
