"""Deal registration and decisions.

Channel conflict is decided on one row per customer (customer_claims, keyed by the normalised
IIN/BIN): the registration inserts it if absent (ON CONFLICT DO NOTHING) and then locks it, so two
partners registering the same customer at the same moment take turns and the second sees the
first's claim: exactly one wins. Whether the customer is already an active customer of a branch
is sales' answer (gRPC), asked before the claim.

Approval creates or links the customer in sales and opens a lead owned by the partner channel,
through sales' API with Idempotency-Keys derived from the deal, so a retried approval creates
nothing twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import record_change
from crm_shared.auth import Principal, Role
from crm_shared.clients.sales import SalesCustomers
from crm_shared.db import new_id
from crm_shared.domain import Conflict, InvalidField
from crm_shared.errors import field_problem, not_found
from crm_shared.pagination import decode_cursor, encode_cursor
from crm_shared.reference import INITIAL_BRANCHES_BY_CODE

from .. import access
from ..clients.sales_records import SalesRecords
from ..db.inserts import insert_if_absent
from ..db.models import CustomerClaim, Deal, Partner
from ..domain.deals import (
    ChannelConflict,
    Claim,
    ConflictReason,
    DealCustomer,
    DealStatus,
    check_claim,
    deal_customer,
)
from ..domain.partners import SELLING_STATUSES
from ..events.publishers import publish_deal

WHAT = "deal"
ACTIVE_IN_SALES = "active"


def sales_reader(partner_id: str) -> Principal:
    """Who asks sales whether a customer exists: the partner's channel, nationally, through this
    service (the answer reaches only the service, never the partner user). Sales audits each
    look-up by IIN/BIN and holds each partner to its per-minute budget of them."""
    return Principal(f"partner:{partner_id}", f"partner channel {partner_id}", Role.SYSTEM, scopes=("sales:read",))


def partner_channel(partner: Partner, branch_code: str) -> Principal:
    """The partner channel as sales' records see it: their owner, placed in one of its branches."""
    branch = INITIAL_BRANCHES_BY_CODE.get(branch_code)
    region = branch.region_code if branch else partner.region_codes[0]
    return Principal(
        f"partner:{partner.id}",
        f"Partner channel: {partner.name}"[:200],
        Role.SYSTEM,
        region=region,
        branch=branch_code,
        partner_id=partner.id,
        scopes=("sales:read", "sales:write"),
    )


@dataclass(frozen=True)
class NewDeal:
    customer: dict
    offering_ids: list[str]
    expected_value_tiyn: int


async def register_deal(
    session: AsyncSession,
    principal: Principal,
    new: NewDeal,
    *,
    sales: SalesCustomers,
    protection: timedelta,
    now: datetime,
) -> Deal:
    partner_id = access.require_partner_user(principal)
    partner = await session.get(Partner, partner_id)
    if partner is None or partner.status not in SELLING_STATUSES:
        raise Conflict("your partner is not active: it may not register deals", field="partner_id")
    customer = deal_customer(new.customer)
    if not new.offering_ids:
        raise InvalidField("offering_ids", "at least one offering")
    await check_not_a_branch_customer(session, partner_id, customer, sales)
    deal = Deal(
        id=new_id(),
        partner_id=partner_id,
        status=DealStatus.SUBMITTED.value,
        customer_key=customer.key,
        customer=customer.as_dict(),
        offering_ids=list(dict.fromkeys(new.offering_ids)),
        expected_value_tiyn=new.expected_value_tiyn,
        created_by=principal.subject,
        version=1,
        created_at=now,
        updated_at=now,
    )
    await claim_customer(session, customer.key, partner_id, deal.id, now + protection, now)
    session.add(deal)
    await session.flush()
    record_change(session, principal, entity_type=WHAT, entity_id=deal.id, action="submitted")
    await publish_deal(session, "submitted", deal)
    return deal


async def check_not_a_branch_customer(
    session: AsyncSession, partner_id: str, customer: DealCustomer, sales: SalesCustomers
) -> None:
    """409 when sales has this customer, active, and no partner brought it."""
    found = await sales.find_by_iin_bin(sales_reader(partner_id), customer.identifier)
    active = [c.id for c in found if c.status == ACTIVE_IN_SALES]
    if not active:
        return
    brought = await session.scalar(select(CustomerClaim.customer_id).where(CustomerClaim.customer_id.in_(active)))
    if brought is None:
        raise ChannelConflict(ConflictReason.ACTIVE_BRANCH_CUSTOMER)


async def claim_customer(
    session: AsyncSession, key: str, partner_id: str, deal_id: str, protected_until: datetime, now: datetime
) -> None:
    """Claims the customer for this deal, or refuses (409) when another partner holds it."""
    inserted = await session.execute(
        insert_if_absent(
            session,
            CustomerClaim,
            "customer_key",
            CustomerClaim.customer_key,
            customer_key=key,
            partner_id=partner_id,
            deal_id=deal_id,
            protected_until=protected_until,
        )
    )
    if inserted.first() is not None:
        return
    claim = await session.scalar(select(CustomerClaim).where(CustomerClaim.customer_key == key).with_for_update())
    check_claim(
        Claim(claim.partner_id, claim.deal_id, claim.protected_until, brought=claim.brought_at is not None),
        partner_id,
        now,
    )
    # the earlier claim lapsed (its window passed, or its deal was rejected): this deal takes it
    claim.partner_id, claim.deal_id, claim.protected_until = partner_id, deal_id, protected_until
    claim.customer_id = claim.brought_at = claim.first_activation_at = None


async def get_deal(session: AsyncSession, principal: Principal, deal_id: str, *, lock: bool = False) -> Deal:
    access.require_reader(principal)
    stmt = select(Deal).where(Deal.id == deal_id, access.partner_filter(principal, Deal.partner_id))
    deal = await session.scalar(stmt.with_for_update() if lock else stmt)
    if deal is None:
        raise not_found(WHAT, deal_id[:64])
    return deal


async def list_deals(
    session: AsyncSession,
    principal: Principal,
    *,
    limit: int,
    cursor: str | None,
    status: str | None = None,
    partner_id: str | None = None,
) -> tuple[list[Deal], str | None]:
    stmt = select(Deal).where(access.partner_filter(principal, Deal.partner_id))
    if status:
        stmt = stmt.where(Deal.status == status)
    if partner_id:
        stmt = stmt.where(Deal.partner_id == partner_id)
    values = decode_cursor(cursor)
    if values is not None:
        try:
            created_at, last_id = values
            after = datetime.fromisoformat(created_at)
        except (TypeError, ValueError):
            raise field_problem("cursor", "malformed cursor; pass next_cursor unchanged", 400) from None
        stmt = stmt.where(tuple_(Deal.created_at, Deal.id) < tuple_(after, str(last_id)))
    rows = list(await session.scalars(stmt.order_by(Deal.created_at.desc(), Deal.id.desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor([last.created_at.isoformat(), last.id])


async def decide(
    session: AsyncSession,
    principal: Principal,
    deal_id: str,
    *,
    decision: str,
    reason: str | None,
    branch_code: str | None,
    interest: str,
    sales: SalesCustomers,
    records: SalesRecords,
    now: datetime,
) -> Deal:
    """Approve or reject a submitted deal. Deciding the same way again answers the deal as it is
    (a retry); the other way is a 409."""
    access.require_manager(principal)
    deal = await get_deal(session, principal, deal_id, lock=True)
    if deal.status != DealStatus.SUBMITTED:
        if deal.status == decision:
            return deal
        raise Conflict(f"the deal was already {deal.status}", field="decision")
    claim = await session.get(CustomerClaim, deal.customer_key, with_for_update=True)
    if decision == DealStatus.REJECTED:
        if not reason:
            raise InvalidField("reason", "required when rejecting")
        if claim is not None and claim.deal_id == deal.id:
            await session.delete(claim)  # the customer is free for other partners again
    else:
        if claim is None or claim.deal_id != deal.id:
            raise Conflict("the deal's protection lapsed and another deal holds the customer", field="decision")
        partner = await session.get(Partner, deal.partner_id)
        branch = branch_code or (partner.branch_codes[0] if partner.branch_codes else None)
        if branch is None:
            raise InvalidField("branch_code", "the partner sells through no branch: name the branch of its records")
        channel = partner_channel(partner, branch)
        deal.customer_id = await customer_in_sales(deal, channel, sales, records)
        lead = await records.create_lead(channel, lead_body(deal, partner, interest), f"partner-deal-{deal.id}-lead")
        deal.lead_id = lead["id"]
        claim.customer_id, claim.brought_at = deal.customer_id, now
    deal.status = decision
    deal.decision_reason = reason
    deal.decided_by = principal.subject
    deal.decided_at = deal.updated_at = now
    deal.version += 1
    record_change(
        session,
        principal,
        entity_type=WHAT,
        entity_id=deal.id,
        action=decision,
        changes={"status": [DealStatus.SUBMITTED.value, decision]},
    )
    await publish_deal(session, decision, deal)
    return deal


async def customer_in_sales(deal: Deal, channel: Principal, sales: SalesCustomers, records: SalesRecords) -> str:
    """The customer's id in sales: the one registered with this IIN/BIN, or a new one."""
    customer = deal.customer
    identifier = customer.get("iin") or customer.get("bin")
    found = await sales.find_by_iin_bin(sales_reader(deal.partner_id), identifier)
    existing = [c for c in found if c.status != "merged"]
    if existing:
        return existing[0].id
    body = {"kind": customer["kind"], "phone": customer["phone"], "branch_code": channel.branch}
    if customer["kind"] == "individual":
        body |= {"iin": customer["iin"], "first_name": customer["first_name"], "last_name": customer["last_name"]}
    else:
        body |= {"bin": customer["bin"], "legal_name": customer["legal_name"]}
    created = await records.create_customer(channel, body, f"partner-deal-{deal.id}-customer")
    return created["id"]


def lead_body(deal: Deal, partner: Partner, interest: str) -> dict:
    customer = deal.customer
    name = customer.get("legal_name") or f"{customer.get('first_name')} {customer.get('last_name')}"
    return {
        "source": "partner",
        "name": name,
        "phone": customer["phone"],
        "interest": interest,
        "partner_id": partner.id,
        "notes": f"Deal {deal.id} registered by {partner.name}; offerings {', '.join(deal.offering_ids)}; "
        f"expected {deal.expected_value_tiyn} tiyn",
        **({"company_name": customer["legal_name"]} if customer.get("legal_name") else {}),
    }
