"""The client of the orders service's crm.orders.v1.PersonalDataService: everything orders holds
about one customer, asked with the identity of the person exporting (sales' subject-access export).
Errors and the shared worker: crm_shared.clients.personal_data."""

from __future__ import annotations

from pydantic import Field

from crm_contracts.grpc.crm.orders.v1 import personal_data_service_pb2, personal_data_service_pb2_grpc

from ..settings import ServiceSettings
from .personal_data import PersonalDataClient


class OrdersClientSettings(ServiceSettings):
    """The settings of a service that asks orders (subclass it, beside other client settings)."""

    orders_grpc_target: str = "127.0.0.1:50105"
    orders_grpc_timeout_s: float = Field(10.0, gt=0)


class OrdersPersonalData(PersonalDataClient):
    service = "orders"
    pb = personal_data_service_pb2
    pb_grpc = personal_data_service_pb2_grpc

    def __init__(self, settings: OrdersClientSettings) -> None:
        super().__init__(settings, settings.orders_grpc_target, settings.orders_grpc_timeout_s)
