"""Engines and connection URLs."""

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from crm_api.config import Settings


def async_url(url: str) -> str:
    """The URL with the asyncpg driver, whatever scheme it was given with."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def app_database_url(settings: Settings, owner_url: str) -> str:
    """The application's connection: APP_DATABASE_URL, or the owner's URL as the app role."""
    if settings.app_database_url:
        return async_url(settings.app_database_url)
    url = make_url(async_url(owner_url)).set(username=settings.app_db_role, password=settings.app_db_password)
    return url.render_as_string(hide_password=False)


def make_engine(url: str, settings: Settings) -> AsyncEngine:
    """An asyncpg engine with the configured pool."""
    return create_async_engine(
        async_url(url),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_recycle=3600,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    """Sessions that keep loaded attributes after commit (responses are built after it)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
