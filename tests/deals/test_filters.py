"""Deal lists: every filter, stale detection (timestamps set as the owner), sorts with keyset pages."""

import uuid

import pytest

from tests.kit.rows import assert_problem, error_fields, execute
from tests.pipelines.helpers import created, make_deal, make_pipeline, stage_ids


async def ids(tenant, **params):
    response = await tenant.get("/v1/deals", params=params)
    assert response.status_code == 200, response.text
    return [d["id"] for d in response.json()["data"]]


@pytest.fixture
async def world(tenant):
    """Five deals over two pipelines with known owners, companies, contacts, amounts and dates."""
    user = await created(tenant, "/v1/users", email="o@example.com", name="O")
    company = await created(tenant, "/v1/companies", name="Acme")
    ada = await created(tenant, "/v1/contacts", first_name="Ada")
    reason = await created(tenant, "/v1/lost-reasons", name="Price")
    await created(tenant, "/v1/custom-fields", object_type="deal", key="tier", label="Tier", type="text")
    first, second = await make_pipeline(tenant, "First"), await make_pipeline(tenant, "Second")
    s1, s2 = stage_ids(first), stage_ids(second)
    deals = {
        "alpha": await make_deal(tenant, title="Alpha rollout", stage_id=s1["New"], amount={"amount": "100"},
                                 owner_id=user["id"], company_id=company["id"], contact_ids=[ada["id"]],
                                 expected_close_date="2026-01-10", source="web", custom_fields={"tier": "gold"}),
        "beta": await make_deal(tenant, title="Beta licence", stage_id=s1["Offer"],
                                amount={"amount": "250.5", "currency": "USD"}, expected_close_date="2026-02-01"),
        "gamma": await make_deal(tenant, title="Gamma support", stage_id=s1["Won"], amount={"amount": "1000"},
                                 owner_id=user["id"]),
        "delta": await make_deal(tenant, title="Delta ALPHA", stage_id=s2["Lost"], lost_reason_id=reason["id"],
                                 contact_ids=[ada["id"]], expected_close_date="2026-03-01"),
        "epsilon": await make_deal(tenant, title="Epsilon", stage_id=s2["New"], amount={"amount": "0"}),
    }
    ids_ = {k: v["id"] for k, v in deals.items()}
    return {"ids": ids_, "user": user, "company": company, "ada": ada, "reason": reason, "first": first,
            "second": second, "s1": s1, "s2": s2}


async def test_each_filter(tenant, world):
    i, s1 = world["ids"], world["s1"]

    def expect(*names):
        return sorted(i[n] for n in names)

    cases = [
        ({"pipeline_id": world["first"]["id"]}, ("alpha", "beta", "gamma")),
        ({"stage_id": s1["Offer"]}, ("beta",)),
        ({"status": "won"}, ("gamma",)), ({"status": "lost"}, ("delta",)),
        ({"status": "open"}, ("alpha", "beta", "epsilon")),
        ({"owner_id": world["user"]["id"]}, ("alpha", "gamma")),
        ({"company_id": world["company"]["id"]}, ("alpha",)),
        ({"contact_id": world["ada"]["id"]}, ("alpha", "delta")),
        ({"lost_reason_id": world["reason"]["id"]}, ("delta",)),
        ({"source": "web"}, ("alpha",)),
        ({"currency": "usd"}, ("beta",)),
        ({"amount_min": "100"}, ("alpha", "beta", "gamma")),
        ({"amount_max": "250.5"}, ("alpha", "beta", "epsilon")),
        ({"amount_min": "100.01", "amount_max": "999.99"}, ("beta",)),
        ({"amount_min": "0"}, ("alpha", "beta", "gamma", "epsilon")),
        ({"expected_close_after": "2026-01-10"}, ("alpha", "beta", "delta")),
        ({"expected_close_after": "2026-01-11", "expected_close_before": "2026-03-01"}, ("beta",)),
        ({"q": "alpha"}, ("alpha", "delta")),
        ({"q": "LICENCE"}, ("beta",)),
        ({"q": "%"}, ()),
        ({"custom_fields.tier": "gold"}, ("alpha",)),
        ({"pipeline_id": world["second"]["id"], "contact_id": world["ada"]["id"]}, ("delta",)),
        ({"created_after": "2000-01-01T00:00:00Z"}, ("alpha", "beta", "gamma", "delta", "epsilon")),
        ({"created_before": "2000-01-01T00:00:00Z"}, ()),
    ]
    for params, expected in cases:
        assert sorted(await ids(tenant, **params)) == expect(*expected), params


@pytest.mark.parametrize("params", [
    {"status": "closed"}, {"amount_min": "-1"}, {"amount_min": "ten"}, {"expected_close_after": "tomorrow"},
    {"stale": "perhaps"}, {"pipeline_id": "x"}, {"currency": "XXX1"}, {"color": "red"}, {"sort": "probability"},
    {"custom_fields.nope": "1"}, {"limit": 0}, {"cursor": "bad"},
])
async def test_bad_filters_are_422(tenant, params):
    response = await tenant.get("/v1/deals", params=params)
    assert_problem(response, 422)
    assert error_fields(response)


@pytest.mark.parametrize(("sort", "order"), [
    ("amount", ["delta", "epsilon", "alpha", "beta", "gamma"]),
    ("-amount", ["gamma", "beta", "alpha", "epsilon", "delta"]),
    ("expected_close_date", ["alpha", "beta", "delta", "gamma", "epsilon"]),
    ("title", ["alpha", "beta", "delta", "epsilon", "gamma"]),
    ("-created_at", ["epsilon", "delta", "gamma", "beta", "alpha"]),
])
async def test_sorts_walk_in_keyset_pages(tenant, world, sort, order):
    if sort == "expected_close_date":  # gamma and epsilon have none: they come last, by id
        tail = sorted([world["ids"]["gamma"], world["ids"]["epsilon"]])
        expected = [world["ids"][n] for n in order[:3]] + tail
    elif sort == "amount":  # delta has no amount: it sorts as 0, beside epsilon (by id)
        expected = sorted([world["ids"]["delta"], world["ids"]["epsilon"]]) + [world["ids"][n] for n in order[2:]]
    elif sort == "-amount":
        expected = [world["ids"][n] for n in order[:3]] + sorted([world["ids"]["delta"], world["ids"]["epsilon"]],
                                                                reverse=True)
    else:
        expected = [world["ids"][n] for n in order]
    seen, cursor = [], None
    while True:
        params = {"sort": sort, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await tenant.get("/v1/deals", params=params)).json()
        seen += [d["id"] for d in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == expected


async def test_stale_deals_are_found_by_their_last_change(tenant, owner_engine):
    pipeline = await make_pipeline(tenant, stages=[("New", 10, "open", 10), ("Offer", 50, "open", None),
                                                   ("Won", 100, "won", None)])
    stages = stage_ids(pipeline)
    fresh = await make_deal(tenant, title="fresh", stage_id=stages["New"])
    old = await make_deal(tenant, title="old", stage_id=stages["New"])
    edge = await make_deal(tenant, title="edge", stage_id=stages["New"])
    no_rot = await make_deal(tenant, title="no rotting", stage_id=stages["Offer"])
    won = await make_deal(tenant, title="won", stage_id=stages["Won"])
    # Unchanged for 11 days (stale after 10), 9 days (not yet), and 400 days where nothing rots.
    for deal, days in ((old, 11), (edge, 9), (no_rot, 400), (won, 400)):
        await execute(owner_engine, "UPDATE deals SET updated_at = now() - make_interval(days => :d), "
                      "stage_entered_at = now() - make_interval(days => :d) WHERE tenant_id = :t AND id = :id",
                      d=days, t=tenant.id, id=uuid.UUID(deal["id"]))
    assert await ids(tenant, stale="true") == [old["id"]]
    assert sorted(await ids(tenant, stale="false")) == sorted(d["id"] for d in (fresh, edge, no_rot, won))
    shown = (await tenant.get(f"/v1/deals/{old['id']}")).json()
    assert (shown["stale"], shown["days_in_stage"]) == (True, 11)
    assert (await tenant.get(f"/v1/deals/{edge['id']}")).json()["stale"] is False
    # A stage that rots sooner makes more deals stale; a change to the deal makes it fresh again.
    await tenant.patch(f"/v1/pipelines/{pipeline['id']}/stages/{stages['New']}", json={"rotting_days": 5})
    assert sorted(await ids(tenant, stale="true")) == sorted([old["id"], edge["id"]])
    await tenant.patch(f"/v1/deals/{old['id']}", json={"title": "old, touched"})
    assert await ids(tenant, stale="true") == [edge["id"]]
    # A deal in a stage without rotting_days never goes stale.
    await tenant.patch(f"/v1/pipelines/{pipeline['id']}/stages/{stages['New']}", json={"rotting_days": None})
    assert await ids(tenant, stale="true") == []


async def test_another_tenants_deals_never_appear(tenant, other_tenant):
    await make_deal(other_tenant, title="Theirs")
    mine = await make_deal(tenant, title="Mine")
    assert await ids(tenant) == [mine["id"]]
    assert await ids(tenant, q="theirs") == []
