"""Test fixtures: a real PostgreSQL and Redis, a fresh migrated database per run, the app over ASGI.

Isolation comes from tenancy itself: every test works in tenants of its own, so tests never see
each other's rows and nothing needs truncating (the database is dropped at the end of the run).
CRM_TEST_DATABASE_URL / CRM_TEST_REDIS_URL point at existing servers; unset, embedded ones start.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from crm_api.app import create_app
from crm_api.config import Settings
from crm_api.embedded import EmbeddedServices
from crm_api.kit.db import async_url, make_sessionmaker
from crm_api.kit.uow import UnitOfWork
from crm_api.migrate import upgrade_async
from crm_api.tenants.service import create_tenant
from tests.databases import scratch_database

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def servers() -> Iterator[tuple[str, str]]:
    """(owner database URL, Redis URL) of the servers the run uses."""
    database_url = os.environ.get("CRM_TEST_DATABASE_URL")
    redis_url = os.environ.get("CRM_TEST_REDIS_URL")
    embedded = None
    if not (database_url and redis_url):
        embedded = EmbeddedServices(Path(os.environ.get("CRM_TEST_DATA_DIR", ROOT / ".crm-test"))).start()
        database_url = database_url or embedded.database_url
        redis_url = redis_url or embedded.redis_url
    yield async_url(database_url), redis_url
    if embedded is not None:
        embedded.stop()


@pytest_asyncio.fixture(scope="session")
async def database_url(servers: tuple[str, str]) -> AsyncIterator[str]:
    """A new database, migrated to head, dropped after the run."""
    server_url, _ = servers
    async with scratch_database(server_url, "crm_test") as url:
        await upgrade_async(url, Settings(database_url=url))
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, servers: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url, redis_url=servers[1], data_dir=tmp_path_factory.mktemp("data"),
        max_body_bytes=64 * 1024,
        # Webhook receivers in tests are local HTTP servers; the retry schedule keeps its shape, shrunk.
        webhook_allow_hosts="127.0.0.1,localhost", webhook_allow_http=True, webhook_timeout_seconds=2.0,
        webhook_retry_schedule=[0.05, 0.1, 0.2], webhook_retry_jitter=0.1, webhook_lease_seconds=2.0,
        webhook_sweep_seconds=1,
    )


@pytest_asyncio.fixture(scope="session")
async def owner_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The owner's connection: for setting up tenants and reading what the app cannot."""
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture(scope="session")
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


@dataclass
class TenantClient:
    """A tenant and an HTTP client authenticated as it."""

    id: uuid.UUID
    key: str
    client: httpx.AsyncClient

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.client.request(method, url, headers=headers, **kwargs)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kwargs)

    async def with_scopes(self, *scopes: str, user_id: str | None = None) -> TenantClient:
        """Another client of this tenant whose API key has only `scopes`."""
        body: dict[str, Any] = {"name": "scoped", "scopes": list(scopes)}
        if user_id:
            body["user_id"] = user_id
        response = await self.post("/v1/api-keys", json=body)
        assert response.status_code == 201, response.text
        return TenantClient(self.id, response.json()["api_key"], self.client)


@pytest_asyncio.fixture
async def make_tenant(owner_engine: AsyncEngine, client: httpx.AsyncClient) -> Any:
    """A factory of fresh tenants, each with an all-scopes API key."""

    async def make(name: str = "Tenant", currency: str = "EUR", time_zone: str = "UTC") -> TenantClient:
        async with UnitOfWork(make_sessionmaker(owner_engine)) as uow:
            tenant, key = await create_tenant(uow, name, default_currency=currency, time_zone=time_zone)
        return TenantClient(tenant.id, key, client)

    return make


@pytest_asyncio.fixture
async def tenant(make_tenant: Any) -> TenantClient:
    return await make_tenant("Tenant A")


@pytest_asyncio.fixture
async def other_tenant(make_tenant: Any) -> TenantClient:
    return await make_tenant("Tenant B")
