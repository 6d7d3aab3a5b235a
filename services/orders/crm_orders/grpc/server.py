"""crm.orders.v1.InventoryService: the customer's installed products for other services, with
the caller's visibility applied (a product belongs to its customer's branch and region).
crm.orders.v1.PersonalDataService: everything held about one customer, for the subject-access
export that sales assembles (administrators and privacy officers only)."""

from __future__ import annotations

import json
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from crm_contracts.grpc.crm.orders.v1 import inventory_service_pb2 as pb
from crm_contracts.grpc.crm.orders.v1 import inventory_service_pb2_grpc as pb_grpc
from crm_contracts.grpc.crm.orders.v1 import personal_data_service_pb2 as export_pb
from crm_contracts.grpc.crm.orders.v1 import personal_data_service_pb2_grpc as export_pb_grpc
from crm_shared.app import ServiceRuntime
from crm_shared.errors import field_problem
from crm_shared.grpc import current_principal

from ..db.models import InstalledProduct
from ..services import inventory_service, personal_data_service

PRODUCT_LINES = {
    "internet": pb.PRODUCT_LINE_INTERNET,
    "tv": pb.PRODUCT_LINE_TV,
    "mobile": pb.PRODUCT_LINE_MOBILE,
    "fixed_line": pb.PRODUCT_LINE_FIXED_LINE,
    "bundle": pb.PRODUCT_LINE_BUNDLE,
}
STATUSES = {
    "active": pb.INSTALLED_PRODUCT_STATUS_ACTIVE,
    "suspended": pb.INSTALLED_PRODUCT_STATUS_SUSPENDED,
    "terminated": pb.INSTALLED_PRODUCT_STATUS_TERMINATED,
}


def _timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def to_message(product: InstalledProduct) -> pb.InstalledProduct:
    return pb.InstalledProduct(
        id=product.id,
        customer_id=product.customer_id,
        offering_id=product.offering_id,
        offering_name=product.offering_name,
        product_line=PRODUCT_LINES.get(product.product_line, pb.PRODUCT_LINE_UNSPECIFIED),
        status=STATUSES.get(product.status, pb.INSTALLED_PRODUCT_STATUS_UNSPECIFIED),
        characteristics={str(k): str(v) for k, v in (product.characteristics or {}).items()},
        service_address=product.service_address,
        branch_code=product.branch_code,
        region_code=product.region_code,
        activated_at=_timestamp(product.activated_at),
        terminated_at=_timestamp(product.terminated_at),
    )


class InventoryServicer(pb_grpc.InventoryServiceServicer):
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def ListInstalledProducts(self, request: pb.ListInstalledProductsRequest, context):
        async with self.runtime.db.read_only() as session:
            rows, token = await inventory_service.customer_products_page(
                session,
                current_principal(),
                request.customer_id,
                page_size=request.page_size,
                page_token=request.page_token,
            )
        return pb.ListInstalledProductsResponse(installed_products=[to_message(p) for p in rows], next_page_token=token)

    async def GetInstalledProduct(self, request: pb.GetInstalledProductRequest, context):
        principal = current_principal()
        if not request.id:
            raise field_problem("id", "required")
        async with self.runtime.db.read_only() as session:
            product = await inventory_service.visible_product(session, principal, request.id)
        return pb.GetInstalledProductResponse(installed_product=to_message(product))


class PersonalDataServicer(export_pb_grpc.PersonalDataServiceServicer):
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def ExportCustomerData(self, request: export_pb.ExportCustomerDataRequest, context):
        now = self.runtime.clock()
        async with self.runtime.db.read_only() as session:
            document, counts = await personal_data_service.export_customer_data(
                session, current_principal(), request.customer_id, today=now.date()
            )
        return export_pb.ExportCustomerDataResponse(
            customer_id=request.customer_id,
            document_json=json.dumps(document, ensure_ascii=False),
            generated_at=_timestamp(now),
            record_counts=counts,
        )


def register(server, runtime: ServiceRuntime) -> None:
    pb_grpc.add_InventoryServiceServicer_to_server(InventoryServicer(runtime), server)
    export_pb_grpc.add_PersonalDataServiceServicer_to_server(PersonalDataServicer(runtime), server)
