"""Companies: annual_revenue is exact money; the currency defaults to the tenant's."""

import pytest


async def test_amount_without_currency_takes_the_tenant_default(make_tenant):
    usd = await make_tenant("US tenant", currency="USD")
    response = await usd.post("/v1/companies", json={"name": "Acme", "annual_revenue": {"amount": "1234.5"}})
    assert response.status_code == 201, response.text
    assert response.json()["annual_revenue"] == {"amount": "1234.50", "currency": "USD"}
    eur = await make_tenant("EU tenant", currency="EUR")
    response = await eur.post("/v1/companies", json={"name": "Acme", "annual_revenue": {"amount": "1234.5"}})
    assert response.json()["annual_revenue"] == {"amount": "1234.50", "currency": "EUR"}


@pytest.mark.parametrize(("amount", "shown"), [
    ("1234.5", "1234.50"), ("1000", "1000.00"), (1000, "1000.00"), ("0", "0.00"), ("0.1234", "0.1234"),
    ("99999999999999.99", "99999999999999.99"), ("12.30", "12.30"), (19.99, "19.99"),
])
async def test_amount_is_a_decimal_string(tenant, amount, shown):
    response = await tenant.post("/v1/companies", json={"name": "Acme", "annual_revenue": {"amount": amount,
                                                                                          "currency": "eur"}})
    assert response.status_code == 201, response.text
    assert response.json()["annual_revenue"] == {"amount": shown, "currency": "EUR"}
    fetched = await tenant.get(response.headers["location"])
    assert fetched.json()["annual_revenue"] == {"amount": shown, "currency": "EUR"}


async def test_explicit_currency_is_kept_and_patch_replaces_or_clears(make_tenant):
    tenant = await make_tenant("US tenant", currency="USD")
    created = (await tenant.post("/v1/companies", json={"name": "Acme",
                                                        "annual_revenue": {"amount": "10", "currency": "JPY"}})).json()
    assert created["annual_revenue"] == {"amount": "10.00", "currency": "JPY"}
    url = f"/v1/companies/{created['id']}"
    patched = await tenant.patch(url, json={"annual_revenue": {"amount": "20.5", "currency": "GBP"}})
    assert patched.json()["annual_revenue"] == {"amount": "20.50", "currency": "GBP"}
    unrelated = await tenant.patch(url, json={"industry": "Retail"})
    assert unrelated.json()["annual_revenue"] == {"amount": "20.50", "currency": "GBP"}
    cleared = await tenant.patch(url, json={"annual_revenue": None})
    assert cleared.json()["annual_revenue"] is None


@pytest.mark.parametrize(("money", "field"), [
    ({"amount": "10", "currency": "ABC"}, "annual_revenue.currency"),
    ({"amount": "10", "currency": "EURO"}, "annual_revenue.currency"),
    ({"amount": "-1"}, "annual_revenue.amount"),
    ({"amount": "1.23456"}, "annual_revenue.amount"),
    ({"amount": "ten"}, "annual_revenue.amount"),
    ({"currency": "EUR"}, "annual_revenue.amount"),
    ({"amount": "10", "rate": 1}, "annual_revenue.rate"),
])
async def test_bad_money_is_422(tenant, money, field):
    response = await tenant.post("/v1/companies", json={"name": "Acme", "annual_revenue": money})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in response.json()["errors"]]
    assert (await tenant.get("/v1/companies")).json()["data"] == []
