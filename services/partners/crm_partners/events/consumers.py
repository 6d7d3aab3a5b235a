"""The service's consumers (ServiceDefinition.consumers). Each handler runs in the consumer's
unit of work, beside the inbox row that marks the event as applied, so an event delivered twice
(a relay re-send, a replay, a redelivery after a rebalance) takes effect once; and every event is
checked against its contract before it reaches the handler (crm_shared.service.ConsumerSpec)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.db import utcnow
from crm_shared.envelope import CloudEvent
from crm_shared.service import ConsumerSpec

from ..db.models import PartnerBranchCount
from .publishers import CREATED, TOPIC


async def count_partner_in_its_branch(session: AsyncSession, event: CloudEvent) -> None:
    """A new partner adds one to its branch's count; the topic's other events change no count."""
    if event.type != CREATED:
        return
    branch_code, region_code = event.data["branch_code"], event.data["region_code"]
    row = await session.get(PartnerBranchCount, branch_code, with_for_update=True)
    if row is None:
        # The first partners of a branch may arrive on two partitions at once: the second
        # INSERT fails, its transaction (inbox row included) rolls back, and its retry adds one.
        session.add(
            PartnerBranchCount(branch_code=branch_code, region_code=region_code, partners=1, updated_at=utcnow())
        )
        return
    row.partners += 1
    row.updated_at = utcnow()


CONSUMERS: tuple[ConsumerSpec, ...] = (
    # The name is the inbox key and the consumer group (<service>.<name>): keep it stable.
    ConsumerSpec("branch-counts", [TOPIC], count_partner_in_its_branch),
)
