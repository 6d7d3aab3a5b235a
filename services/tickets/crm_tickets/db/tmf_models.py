"""The TMF621 facade's own table: each ticket's free TMF strings as the client sent them."""

from crm_shared.tmf import TmfOriginalValueMixin

from .base import TicketsBase


class TmfOriginalValue(TicketsBase, TmfOriginalValueMixin):
    pass
