"""Where a ticket goes: the queue of the customer's branch for the category's team."""

from __future__ import annotations

CATEGORIES = ("internet", "tv", "mobile", "fixed_line", "billing", "relocation", "equipment", "other")
TEAM_OF_CATEGORY = {
    "internet": "technical",
    "tv": "technical",
    "mobile": "technical",
    "fixed_line": "technical",
    "equipment": "technical",
    "billing": "billing",
    "relocation": "field",
    "other": "general",
}
TEAMS = ("technical", "billing", "field", "general")


def queue_for(branch_code: str, category: str) -> str:
    return f"{branch_code}.{TEAM_OF_CATEGORY.get(category, 'general')}"


def branch_of_queue(queue: str) -> str:
    return queue.rsplit(".", 1)[0]
