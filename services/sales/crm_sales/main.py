"""The sales service process: REST API, gRPC server, outbox relay and Kafka consumers, declared
once; crm_shared.service wires them."""

from __future__ import annotations

from fastapi import FastAPI

from crm_shared.app import ServiceRuntime
from crm_shared.clients.orders import OrdersPersonalData
from crm_shared.clients.tickets import TicketsPersonalData
from crm_shared.outbound import SmtpChannel
from crm_shared.service import ServiceDefinition
from crm_shared.service import create_app as create_service_app

from .api import (
    activities,
    customer_interactions,
    customers,
    erasures,
    forecast,
    history,
    imports,
    leads,
    my_work,
    opportunities,
    personal_data,
    reassignments,
    stats,
    tmf_party,
)
from .background import CallHandover, ImportWorker, TaskReminders
from .config import SalesSettings
from .events.consumers import CONSUMERS
from .grpc import server as grpc_server


def call_handover(runtime: ServiceRuntime) -> CallHandover:
    return CallHandover(runtime.db)


def task_reminders(runtime: ServiceRuntime) -> TaskReminders | None:
    settings = runtime.settings
    if not settings.task_reminders_enabled:
        return None
    return TaskReminders(
        runtime.db,
        SmtpChannel(settings).send,
        runtime.clock,
        interval_s=settings.task_reminder_interval_s,
        console_url=settings.console_url,
    )


def import_worker(runtime: ServiceRuntime) -> ImportWorker | None:
    settings = runtime.settings
    if not settings.import_worker_enabled:
        return None
    return ImportWorker(
        runtime.db,
        runtime.clock,
        imports.checked_rows,
        batch_size=settings.import_batch_size,
        # SQLite has one writer at a time: concurrent batches would only wait for each other
        concurrency=1 if runtime.db.is_sqlite else settings.import_concurrency,
        poll_interval_s=settings.import_poll_interval_s,
        lease_s=settings.import_lease_s,
    )


DEFINITION = ServiceDefinition(
    title="Qazaq CRM sales service",
    description="Customers, contacts, leads, opportunities, activities, audit history, personal-data exports, erasure on request.",
    routers=[
        imports.router,  # before customers: /customers/imports is not a customer id
        customers.router,
        customer_interactions.router,
        erasures.router,
        leads.router,
        opportunities.router,
        activities.router,
        reassignments.router,
        stats.router,
        personal_data.router,
        history.router,
        forecast.router,
        my_work.router,
        tmf_party.router,
        tmf_party.customer_schemas,
        tmf_party.party_schemas,
    ],
    consumers=CONSUMERS,
    grpc_servicers=grpc_server.register,
    # What orders and tickets hold about a person, for the subject-access export.
    clients=[OrdersPersonalData, TicketsPersonalData],
    background=[call_handover, task_reminders, import_worker],
)


def create_app(settings: SalesSettings | None = None, runtime: ServiceRuntime | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings or SalesSettings(), runtime=runtime)
