"""The board: per stage count, sums and weighted sums per currency, and the first page of deals."""

from tests.kit.rows import assert_problem
from tests.pipelines.helpers import created, default_pipeline, make_deal, make_pipeline, stage_ids


def money(amount, currency="EUR"):
    return {"amount": amount, "currency": currency}


async def test_sums_on_a_known_data_set(tenant):
    pipeline = await default_pipeline(tenant)
    s = stage_ids(pipeline)
    user = await created(tenant, "/v1/users", email="rep@example.com", name="Rep")
    lead_in = [await make_deal(tenant, title="a", stage_id=s["Lead in"], amount=money("100.10")),
               await make_deal(tenant, title="b", stage_id=s["Lead in"], amount=money("200.20"), owner_id=user["id"]),
               await make_deal(tenant, title="c", stage_id=s["Lead in"], amount=money("50", "USD")),
               await make_deal(tenant, title="d", stage_id=s["Lead in"])]
    await make_deal(tenant, title="e", stage_id=s["Proposal"], amount=money("333.33"), owner_id=user["id"])
    await make_deal(tenant, title="f", stage_id=s["Won"], amount=money("1000"))
    await make_deal(tenant, title="g", stage_id=s["Lost"], amount=money("500"), lost_note="budget")
    trashed = await make_deal(tenant, title="trashed", stage_id=s["Won"], amount=money("7777"))
    await tenant.delete(f"/v1/deals/{trashed['id']}")
    other = await make_pipeline(tenant, "Other")
    await make_deal(tenant, title="elsewhere", stage_id=stage_ids(other)["New"], amount=money("9999"))

    response = await tenant.get(f"/v1/pipelines/{pipeline['id']}/board", params={"limit": 2})
    assert response.status_code == 200, response.text
    board = response.json()
    assert board["pipeline"]["id"] == pipeline["id"]
    columns = {c["stage"]["name"]: c for c in board["stages"]}
    assert [c["stage"]["name"] for c in board["stages"]] == [st["name"] for st in pipeline["stages"]]
    summary = {name: (c["count"], c["sum"], c["weighted_sum"]) for name, c in columns.items()}
    assert summary == {
        "Lead in": (4, [money("300.30"), money("50.00", "USD")], [money("30.03"), money("5.00", "USD")]),
        "Qualified": (0, [], []), "Demo": (0, [], []),
        "Proposal": (1, [money("333.33")], [money("199.998")]),
        "Negotiation": (0, [], []),
        "Won": (1, [money("1000.00")], [money("1000.00")]),
        "Lost": (1, [money("500.00")], [money("0.00")]),
    }
    # The first page of each stage, newest first, and a cursor for the rest through GET /v1/deals.
    first = columns["Lead in"]
    assert [d["title"] for d in first["deals"]] == ["d", "c"]
    assert first["deals"][0] == (await tenant.get(f"/v1/deals/{lead_in[3]['id']}")).json()
    rest = (await tenant.get("/v1/deals", params={"stage_id": s["Lead in"], "limit": 2,
                                                  "cursor": first["next_cursor"]})).json()
    assert [d["title"] for d in rest["data"]] == ["b", "a"]
    assert rest["next_cursor"] is None
    assert columns["Proposal"]["next_cursor"] is None
    assert [d["title"] for d in columns["Proposal"]["deals"]] == ["e"]
    assert columns["Qualified"]["deals"] == []

    mine = (await tenant.get(f"/v1/pipelines/{pipeline['id']}/board", params={"owner_id": user["id"]})).json()
    summary = {c["stage"]["name"]: (c["count"], c["sum"], [d["title"] for d in c["deals"]]) for c in mine["stages"]
               if c["count"]}
    assert summary == {"Lead in": (1, [money("200.20")], ["b"]), "Proposal": (1, [money("333.33")], ["e"])}

    by_amount = (await tenant.get(f"/v1/pipelines/{pipeline['id']}/board",
                                  params={"sort": "-amount", "limit": 1})).json()
    column = by_amount["stages"][0]
    assert [d["title"] for d in column["deals"]] == ["b"]
    rest = (await tenant.get("/v1/deals", params={"stage_id": s["Lead in"], "sort": "-amount",
                                                  "cursor": column["next_cursor"]})).json()
    assert [d["title"] for d in rest["data"]] == ["a", "c", "d"]


async def test_board_follows_moves(tenant):
    pipeline = await make_pipeline(tenant)
    s = stage_ids(pipeline)
    deal = await make_deal(tenant, stage_id=s["New"], amount=money("80"))
    await tenant.post(f"/v1/deals/{deal['id']}/move", json={"stage_id": s["Offer"]})
    board = (await tenant.get(f"/v1/pipelines/{pipeline['id']}/board")).json()
    counts = {c["stage"]["name"]: (c["count"], c["weighted_sum"]) for c in board["stages"]}
    assert counts["New"] == (0, [])
    assert counts["Offer"] == (1, [money("40.00")])


async def test_board_validation(tenant):
    pipeline = await default_pipeline(tenant)
    for params in ({"limit": 0}, {"limit": 201}, {"sort": "nope"}, {"owner_id": "x"}, {"status": "open"}):
        assert_problem(await tenant.get(f"/v1/pipelines/{pipeline['id']}/board", params=params), 422)
