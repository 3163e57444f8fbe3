from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio


@pytest_asyncio.fixture
async def worker_ctx(app: Any, settings: Any) -> AsyncIterator[dict[str, Any]]:
    """What arq's on_startup puts in a job's context, for calling job functions directly."""
    yield {"sessionmaker": app.state.sessionmaker, "settings": settings, "redis": app.state.arq}
