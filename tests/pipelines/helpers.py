"""Helpers of the pipeline, deal and lead tests."""

from __future__ import annotations

from typing import Any


async def created(tenant: Any, url: str, **body: Any) -> dict[str, Any]:
    """POST `body` to `url`, expect 201, return the record."""
    response = await tenant.post(url, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def default_pipeline(tenant: Any) -> dict[str, Any]:
    """The tenant's default pipeline (every new tenant has one)."""
    [pipeline] = (await tenant.get("/v1/pipelines", params={"is_default": "true"})).json()["data"]
    return pipeline


def stage_ids(pipeline: dict[str, Any]) -> dict[str, str]:
    """Stage ids of a pipeline by name."""
    return {s["name"]: s["id"] for s in pipeline["stages"]}


async def make_pipeline(tenant: Any, name: str = "Sales", stages: list[tuple[str, int, str, int | None]] | None = None,
                        **extra: Any) -> dict[str, Any]:
    """A pipeline with stages given as (name, probability, kind, rotting_days)."""
    stages = stages if stages is not None else [("New", 10, "open", 10), ("Offer", 50, "open", None),
                                                ("Won", 100, "won", None), ("Lost", 0, "lost", None)]
    return await created(tenant, "/v1/pipelines", name=name, stages=[
        {"name": n, "probability": p, "kind": k, "rotting_days": r} for n, p, k, r in stages], **extra)


async def make_deal(tenant: Any, **body: Any) -> dict[str, Any]:
    body.setdefault("title", "Deal")
    return await created(tenant, "/v1/deals", **body)
