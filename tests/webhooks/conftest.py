"""Fixtures for webhooks: a local receiver and a worker context like arq's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio

from crm_api.kit.ssrf import GuardedTransport
from crm_api.webhooks.service import target_policy
from tests.webhooks.receiver import Receiver


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver().start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def worker_ctx(app: Any, settings: Any) -> AsyncIterator[dict[str, Any]]:
    """What arq's on_startup puts in a job's context, for calling job functions directly."""
    async with httpx.AsyncClient(transport=GuardedTransport(target_policy(settings))) as client:
        yield {"sessionmaker": app.state.sessionmaker, "settings": settings, "webhook_client": client,
               "redis": app.state.arq}


async def make_endpoint(tenant: Any, url: str, **fields: Any) -> dict[str, Any]:
    response = await tenant.post("/v1/webhook-endpoints", json={"url": url, **fields})
    assert response.status_code == 201, response.text
    return response.json()
