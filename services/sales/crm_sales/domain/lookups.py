"""The budget of look-ups by IIN/BIN for callers who see identifiers masked.

A masked caller (the call centre, an API key) is shown only the last four digits of an IIN. A
look-up by a full IIN answers whether that IIN is a customer's, so a caller who knows the last
four digits and the birth year could try the few IINs that remain (the check digit leaves two or
three per birth date) and have the right one confirmed. Each such look-up is therefore audited,
and a caller gets only ``budget`` of them in any ``window_s`` seconds (a sliding window).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

WINDOW_S = 60


def retry_after(recent: Sequence[datetime], now: datetime, budget: int, window_s: int = WINDOW_S) -> int | None:
    """None when one more look-up fits the budget; otherwise the whole seconds to wait until it
    does. ``recent``: the times of the caller's latest admitted look-ups (any order; the newest
    ``budget`` of them are enough)."""
    if budget <= 0:
        return window_s
    start = now - timedelta(seconds=window_s)
    within = sorted(t for t in recent if t > start)
    if len(within) < budget:
        return None
    # The look-up that frees a place is the oldest of the newest ``budget`` ones in the window.
    frees_at = within[-budget] + timedelta(seconds=window_s)
    return max(1, math.ceil((frees_at - now).total_seconds()))
