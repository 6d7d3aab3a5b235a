"""One running suite for every end-to-end test: `crm up --seed` as `make run` starts it, with a
PostgreSQL database for each service in the registry. Tests make their own fresh records, so they
can share it; starting it once saves a minute per test module."""

from __future__ import annotations

import asyncio

import pytest

from crm_cli import services as registry
from crm_cli.testing import RunningSuite


@pytest.fixture(scope="session")
async def suite(tmp_path_factory, make_database):
    env = {spec.env_name("database_url"): await make_database(f"e2e_{spec.name}") for spec in registry.SERVICES}
    # every test signs its portal customers in from this one address (the limit itself: gateway/tests)
    env["CRM_GATEWAY_PORTAL_CODES_PER_ADDRESS_BURST"] = "100"
    env["CRM_GATEWAY_PORTAL_GUESSES_PER_ADDRESS_BURST"] = "100"
    # task reminders go out every few seconds rather than every minute (test_task_reminders.py)
    env["CRM_SALES_TASK_REMINDER_INTERVAL_S"] = "2"
    running = RunningSuite(tmp_path_factory.mktemp("e2e-suite-var"), seed=True, env=env)
    await asyncio.to_thread(running.__enter__)
    yield running
    await asyncio.to_thread(running.stop)
