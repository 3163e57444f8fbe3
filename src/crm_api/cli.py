"""The `crm-api` command: serve, worker, migrate, openapi, tenants, api-keys."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from crm_api.config import Settings, get_settings

cli = typer.Typer(no_args_is_help=True, add_completion=False, help="crm-api: a headless CRM backend.")
tenants_cli = typer.Typer(no_args_is_help=True, help="Manage tenants.")
api_keys_cli = typer.Typer(no_args_is_help=True, help="Manage API keys.")
cli.add_typer(tenants_cli, name="tenants")
cli.add_typer(api_keys_cli, name="api-keys")


@contextmanager
def _services(settings: Settings, *, keep_running: bool = False) -> Iterator[tuple[Settings, object | None]]:
    """Settings with database and Redis URLs: the configured ones, or embedded servers started here."""
    if settings.database_url and settings.redis_url:
        yield settings, None
        return
    from crm_api.embedded import EmbeddedServices

    embedded = EmbeddedServices(settings.data_dir).start()
    resolved = settings.model_copy(update={"database_url": settings.database_url or embedded.database_url,
                                           "redis_url": settings.redis_url or embedded.redis_url})
    try:
        yield resolved, embedded
    finally:
        if not keep_running:
            embedded.stop()


def _migrate(settings: Settings) -> None:
    from crm_api.migrate import upgrade

    assert settings.database_url
    upgrade(settings.database_url, settings)


async def _owner_uow_run(settings: Settings, work):  # type: ignore[no-untyped-def]
    """Run `work(uow)` in one committed unit of work on the owner connection."""
    from crm_api.kit.db import make_engine, make_sessionmaker
    from crm_api.kit.uow import UnitOfWork

    assert settings.database_url
    engine = make_engine(settings.database_url, settings)
    try:
        async with UnitOfWork(make_sessionmaker(engine)) as uow:
            return await work(uow)
    finally:
        await engine.dispose()


def _demo_key(settings: Settings) -> str:
    """The demo tenant's key: created on first start, kept in the data folder for later starts."""
    from crm_api.tenants.service import create_tenant

    key_file = settings.data_dir / "demo-api-key"
    if key_file.exists():
        return key_file.read_text().strip()

    async def create(uow):  # type: ignore[no-untyped-def]
        _, key = await create_tenant(uow, "Demo")
        return key

    key = asyncio.run(_owner_uow_run(settings, create))
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    return str(key)


@cli.command()
def serve(host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
          worker: Annotated[bool, typer.Option(help="Run the arq worker in this process.")] = True,
          workers: Annotated[int, typer.Option(min=1, help="Server processes, e.g. one per core; each runs "
                                                          "its own arq worker unless --no-worker.")] = 1) -> None:
    """Serve the API (and the worker); embedded PostgreSQL and Redis when no URLs are set."""
    import uvicorn

    from crm_api.app import create_app

    with _services(get_settings(), keep_running=workers == 1) as (settings, embedded):
        _migrate(settings)
        if embedded is not None:
            key = _demo_key(settings)
            typer.echo(f"\n  crm-api on http://{host}:{port}  (embedded PostgreSQL and Redis in {settings.data_dir})")
            typer.echo(f"  demo tenant API key: {key}")
            typer.echo(f'  try: curl -H "Authorization: Bearer {key}" http://{host}:{port}/v1/contacts\n')
        if workers > 1:
            # Each process builds its app from the environment (uvicorn starts them from an import
            # string); this one keeps the embedded servers, if any, and stops them at the end.
            assert settings.database_url and settings.redis_url
            os.environ.update(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url,
                              CRM_SERVE_WORKER="1" if worker else "0")
            uvicorn.run("crm_api.app:serve_app", factory=True, workers=workers, host=host, port=port,
                        log_level=settings.log_level.lower(), access_log=False)
            return
        app = create_app(settings, embedded=embedded, run_worker=worker)  # type: ignore[arg-type]
        uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), access_log=False)


@cli.command("worker")
def worker_command() -> None:
    """Run the arq worker alone (jobs and cron sweeps)."""
    from crm_api.kit.db import app_database_url, make_engine, make_sessionmaker
    from crm_api.worker import build_worker

    with _services(get_settings()) as (settings, _):
        assert settings.database_url and settings.redis_url
        _migrate(settings)
        engine = make_engine(app_database_url(settings, settings.database_url), settings)
        build_worker(settings, settings.redis_url, make_sessionmaker(engine), handle_signals=True).run()


@cli.command()
def migrate() -> None:
    """Apply database migrations (as the owner in DATABASE_URL)."""
    with _services(get_settings()) as (settings, _):
        _migrate(settings)
    typer.echo("migrated")


@cli.command()
def openapi(out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None) -> None:
    """Print or write the OpenAPI document."""
    from crm_api.app import create_app

    text = json.dumps(create_app(Settings()).openapi(), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)


@tenants_cli.command("create")
def tenants_create(name: Annotated[str, typer.Option(help="The tenant's name.")],
                   currency: Annotated[str, typer.Option(help="Default ISO 4217 currency.")] = "EUR",
                   time_zone: Annotated[str, typer.Option(help="IANA time zone.")] = "UTC") -> None:
    """Create a tenant; prints {"tenant_id", "api_key"} (the key has scope `*`)."""
    from crm_api.tenants.service import create_tenant

    async def create(uow):  # type: ignore[no-untyped-def]
        tenant, key = await create_tenant(uow, name, default_currency=currency.upper(), time_zone=time_zone)
        return {"tenant_id": str(tenant.id), "api_key": key}

    with _services(get_settings()) as (settings, _):
        _migrate(settings)
        typer.echo(json.dumps(asyncio.run(_owner_uow_run(settings, create))))


@api_keys_cli.command("create")
def api_keys_create(tenant: Annotated[str, typer.Option(help="Tenant id.")],
                    scopes: Annotated[str, typer.Option(help="Comma-separated, e.g. contacts:read,contacts:write")],
                    name: Annotated[str, typer.Option(help="A name to recognise the key by.")] = "cli key") -> None:
    """Create an API key for a tenant; prints {"id", "api_key"}."""
    from crm_api.auth.keys import display_prefix, key_hash, new_key
    from crm_api.auth.scopes import validate_scopes
    from crm_api.kit.errors import CrmError
    from crm_api.kit.ids import uuid7
    from crm_api.models import ApiKey, Tenant
    from crm_api.tenants.service import tenant_uuid

    try:
        tenant_id = tenant_uuid(tenant)
        scope_list = validate_scopes([s.strip() for s in scopes.split(",") if s.strip()])
    except (ValueError, CrmError) as exc:
        raise typer.BadParameter(str(exc)) from exc

    async def create(uow):  # type: ignore[no-untyped-def]
        await uow.set_tenant(tenant_id)
        if await uow.session.get(Tenant, tenant_id) is None:
            raise typer.BadParameter(f"no tenant {tenant_id}")
        key = new_key()
        record = ApiKey(tenant_id=tenant_id, id=uuid7(), name=name, prefix=display_prefix(key),
                        key_hash=key_hash(key), scopes=scope_list)
        uow.session.add(record)
        await uow.session.flush()
        return {"id": str(record.id), "api_key": key}

    with _services(get_settings()) as (settings, _):
        _migrate(settings)
        typer.echo(json.dumps(asyncio.run(_owner_uow_run(settings, create))))


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    cli()
