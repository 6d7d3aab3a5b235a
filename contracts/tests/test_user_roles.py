"""The gateway announces its users on crm.gateway.user.v1 and the services' consumers check each
event against its schema: a role the platform knows but the schemas do not would be refused by
every consumer (the staff directory would silently lack that user)."""

from __future__ import annotations

import pytest

from crm_contracts import events
from crm_shared.auth import Role

# Roles no gateway user account carries: customers sign in to the portal with a one-time code.
NOT_USER_ACCOUNTS = {Role.CUSTOMER}


@pytest.mark.parametrize("type_", [t for t in events.event_types() if t.startswith("crm.gateway.user.")])
def test_every_role_a_user_can_have_is_in_the_user_event_schemas(type_):
    role = events.schema_for(type_)["properties"]["role"]
    assert set(role["enum"]) == {r.value for r in Role} - {r.value for r in NOT_USER_ACCOUNTS}
