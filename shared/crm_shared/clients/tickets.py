"""The client of the tickets service's crm.tickets.v1.PersonalDataService: everything tickets
holds about one customer, asked with the identity of the person exporting (sales' subject-access
export). Errors and the shared worker: crm_shared.clients.personal_data."""

from __future__ import annotations

from pydantic import Field

from crm_contracts.grpc.crm.tickets.v1 import personal_data_service_pb2, personal_data_service_pb2_grpc

from ..settings import ServiceSettings
from .personal_data import PersonalDataClient


class TicketsClientSettings(ServiceSettings):
    """The settings of a service that asks tickets (subclass it, beside other client settings)."""

    tickets_grpc_target: str = "127.0.0.1:50103"
    tickets_grpc_timeout_s: float = Field(10.0, gt=0)


class TicketsPersonalData(PersonalDataClient):
    service = "tickets"
    pb = personal_data_service_pb2
    pb_grpc = personal_data_service_pb2_grpc

    def __init__(self, settings: TicketsClientSettings) -> None:
        super().__init__(settings, settings.tickets_grpc_target, settings.tickets_grpc_timeout_s)
