"""crm.orders.v1.InventoryService: the customer's installed products for other services, with
the caller's visibility applied (a product belongs to its customer's branch and region)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import and_, or_, select

from crm_contracts.grpc.crm.orders.v1 import inventory_service_pb2 as pb
from crm_contracts.grpc.crm.orders.v1 import inventory_service_pb2_grpc as pb_grpc
from crm_shared.app import ServiceRuntime
from crm_shared.auth import require_personal_data_access, visibility_clause
from crm_shared.errors import Problem, field_problem
from crm_shared.grpc import current_principal
from crm_shared.pagination import decode_cursor, encode_cursor
from crm_shared.records import get_visible

from ..db.models import InstalledProduct

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
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
        principal = current_principal()
        require_personal_data_access(principal)
        if not request.customer_id:
            raise field_problem("customer_id", "required")
        if not 0 <= request.page_size <= MAX_PAGE_SIZE:
            raise field_problem("page_size", f"must be 0..{MAX_PAGE_SIZE}")
        size = request.page_size or DEFAULT_PAGE_SIZE
        try:
            after = decode_cursor(request.page_token)
        except Problem:
            after = ["malformed"]  # reported below, naming the request's own field
        stmt = select(InstalledProduct).where(
            InstalledProduct.customer_id == request.customer_id, visibility_clause(principal, InstalledProduct)
        )
        if after:
            try:
                if len(after) != 2 or not all(isinstance(v, str) for v in after):
                    raise ValueError
                activated = datetime.fromisoformat(after[0])
            except ValueError:
                raise field_problem("page_token", "malformed; pass next_page_token unchanged") from None
            stmt = stmt.where(
                or_(
                    InstalledProduct.activated_at < activated,
                    and_(InstalledProduct.activated_at == activated, InstalledProduct.id > after[1]),
                )
            )
        async with self.runtime.db.read_only() as session:
            rows = list(
                await session.scalars(
                    stmt.order_by(InstalledProduct.activated_at.desc(), InstalledProduct.id).limit(size + 1)
                )
            )
        token = ""
        if len(rows) > size:
            rows = rows[:size]
            token = encode_cursor([rows[-1].activated_at.isoformat(), rows[-1].id])
        return pb.ListInstalledProductsResponse(installed_products=[to_message(p) for p in rows], next_page_token=token)

    async def GetInstalledProduct(self, request: pb.GetInstalledProductRequest, context):
        principal = current_principal()
        if not request.id:
            raise field_problem("id", "required")
        async with self.runtime.db.read_only() as session:
            product = await get_visible(session, principal, InstalledProduct, request.id, what="installed product")
        return pb.GetInstalledProductResponse(installed_product=to_message(product))


def register_servicers(server, runtime: ServiceRuntime) -> None:
    pb_grpc.add_InventoryServiceServicer_to_server(InventoryServicer(runtime), server)
