"""Apply Alembic migrations as the database owner."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from crm_api.config import Settings
from crm_api.kit.db import async_url


def migrations_dir() -> Path:
    """The migrations folder: beside the source tree, or in the working directory (container image)."""
    for candidate in (Path(__file__).resolve().parents[2] / "migrations", Path.cwd() / "migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise RuntimeError("migrations/ not found")


def migration_module(file_name: str) -> ModuleType:
    """A file of migrations/versions loaded as a module: a later migration reusing an earlier one's helpers."""
    path = migrations_dir() / "versions" / file_name
    spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def alembic_config(owner_url: str, settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", async_url(owner_url).replace("%", "%%"))
    config.attributes["app_role"] = settings.app_db_role
    return config


def upgrade(owner_url: str, settings: Settings, revision: str = "head") -> None:
    """Migrate to `revision` (blocking; run it in a thread from async code)."""
    command.upgrade(alembic_config(owner_url, settings), revision)
    if settings.app_db_password:
        asyncio.run(_set_app_password(owner_url, settings))


def downgrade(owner_url: str, settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(owner_url, settings), revision)


async def _set_app_password(owner_url: str, settings: Settings) -> None:
    engine = create_async_engine(async_url(owner_url))
    async with engine.begin() as conn:
        password = (await conn.execute(text("SELECT quote_literal(:p)"), {"p": settings.app_db_password})).scalar_one()
        await conn.execute(text(f'ALTER ROLE "{settings.app_db_role}" PASSWORD {password}'))
    await engine.dispose()


async def upgrade_async(owner_url: str, settings: Settings) -> None:
    """Migrate from async code (Alembic's env runs its own event loop, so in a thread)."""
    await asyncio.to_thread(upgrade, owner_url, settings)
