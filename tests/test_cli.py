"""The `crm-api` command creates tenants and API keys that work against the API."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

import pytest

from tests.kit.rows import assert_problem

CRM_API = Path(sys.executable).parent / "crm-api"


@pytest.fixture
def cli_env(database_url, servers, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_") and k not in (
        "DATABASE_URL", "REDIS_URL", "APP_DATABASE_URL")}
    env.update(DATABASE_URL=database_url, REDIS_URL=servers[1], CRM_DATA_DIR=str(tmp_path / "data"))
    return env


async def _run(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(CRM_API), *args, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, stdout.decode(), stderr.decode()


def _one_json_line(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, stdout
    return json.loads(lines[0])


async def test_tenants_create_and_api_keys_create_print_keys_that_work(client, cli_env, tmp_path):
    code, out, err = await _run(cli_env, tmp_path, "tenants", "create", "--name", "CLI Tenant")
    assert code == 0, err
    created = _one_json_line(out)
    tenant_id = str(uuid.UUID(created["tenant_id"]))
    assert created["api_key"].startswith("crm_")
    admin = {"Authorization": f"Bearer {created['api_key']}"}
    assert (await client.get("/v1/contacts", headers=admin)).status_code == 200
    contact = await client.post("/v1/contacts", headers=admin, json={"first_name": "From the CLI tenant"})
    assert contact.status_code == 201

    code, out, err = await _run(cli_env, tmp_path, "api-keys", "create", "--tenant", tenant_id,
                                "--scopes", "contacts:read", "--name", "reader")
    assert code == 0, err
    key = _one_json_line(out)
    assert key["api_key"].startswith("crm_") and key["api_key"] != created["api_key"]
    reader = {"Authorization": f"Bearer {key['api_key']}"}
    listed = await client.get("/v1/contacts", headers=reader)
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()["data"]] == [contact.json()["id"]]
    assert_problem(await client.post("/v1/contacts", headers=reader, json={"first_name": "No"}), 403)

    keys = (await client.get("/v1/api-keys", headers=admin)).json()["data"]
    shown = next(k for k in keys if k["id"] == key["id"])
    assert shown["scopes"] == ["contacts:read"]
    assert shown["name"] == "reader"


async def test_api_keys_create_refuses_bad_input(cli_env, tmp_path):
    no_tenant, bad_scope = await asyncio.gather(
        _run(cli_env, tmp_path, "api-keys", "create", "--tenant", str(uuid.uuid4()), "--scopes", "contacts:read"),
        _run(cli_env, tmp_path, "api-keys", "create", "--tenant", str(uuid.uuid4()),
             "--scopes", "contacts:read,contacts:destroy"),
    )
    for code, out, _ in (no_tenant, bad_scope):
        assert code != 0
        assert "crm_" not in out
    assert "no tenant" in no_tenant[2]
    assert "contacts:destroy" in bad_scope[2]


async def test_serve_with_several_worker_processes_answers_and_stops_on_sigterm(cli_env, tmp_path, tenant):
    import signal
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        str(CRM_API), "serve", "--port", str(port), "--workers", "2", "--no-worker", env=cli_env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            for _ in range(150):
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            else:
                pytest.fail("crm-api serve --workers 2 never became ready")
            headers = {"Authorization": f"Bearer {tenant.key}"}
            created = await http.post("/v1/contacts", headers=headers, json={"first_name": "Served"})
            assert created.status_code == 201, created.text
            for _ in range(6):  # whichever process answers, it sees the same database
                got = await http.get(f"/v1/contacts/{created.json()['id']}", headers=headers)
                assert got.status_code == 200 and got.json()["first_name"] == "Served"
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=30)
    assert code == 0
