"""crm.marketing.v1.LoyaltyService: a customer's loyalty account for other services (the 360
view, the self-service portal), as the caller may see it. NOT_FOUND for an account that is hidden
or absent, INVALID_ARGUMENT naming the request field."""

from __future__ import annotations

from crm_contracts.grpc.crm.marketing.v1 import loyalty_service_pb2 as pb
from crm_contracts.grpc.crm.marketing.v1 import loyalty_service_pb2_grpc as pb_grpc
from crm_shared.app import ServiceRuntime
from crm_shared.domain import InvalidField
from crm_shared.grpc import current_principal

from ..services import loyalty_service


class LoyaltyServicer(pb_grpc.LoyaltyServiceServicer):
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def GetAccount(self, request: pb.GetAccountRequest, context) -> pb.GetAccountResponse:
        if not request.customer_id:
            raise InvalidField("customer_id", "required")
        async with self.runtime.db.unit_of_work() as session:
            account = await loyalty_service.get_account(session, current_principal(), request.customer_id)
            message = pb.LoyaltyAccount(
                customer_id=account.customer_id,
                card_number=account.card_number,
                tier=account.tier,
                points=account.points,
            )
        return pb.GetAccountResponse(account=message)


def register(server, runtime: ServiceRuntime) -> None:
    pb_grpc.add_LoyaltyServiceServicer_to_server(LoyaltyServicer(runtime), server)
