"""INSERT ... ON CONFLICT DO NOTHING: the shared statement (crm_shared.inserts)."""

from crm_shared.inserts import insert_if_absent

__all__ = ["insert_if_absent"]
