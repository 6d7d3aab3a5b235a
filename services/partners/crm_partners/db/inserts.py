"""INSERT ... ON CONFLICT DO NOTHING: the shared statements (crm_shared.inserts)."""

from crm_shared.inserts import insert_if_absent, insert_many_if_absent

__all__ = ["insert_if_absent", "insert_many_if_absent"]
