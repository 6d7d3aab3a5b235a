"""The topic catalogue (crm_contracts.events) as a table, and creating its topics on a broker."""

from __future__ import annotations

from typing import Any

from crm_contracts.events import topics as catalogue_topics
from crm_shared.kafka import ensure_topics

DEFAULT_PARTITIONS = 3


def catalogue() -> list[dict[str, Any]]:
    return sorted(catalogue_topics(), key=lambda t: t["name"])


def topic_rows(topics: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [
        (t["name"], str(t.get("owner", "")), str(t.get("key", "")), ", ".join(e["type"] for e in t.get("events", [])))
        for t in topics
    ]


def render_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)


def partitions_of(topics: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(t["name"], int(t.get("partitions") or DEFAULT_PARTITIONS)) for t in topics]


async def create_topics(bootstrap: str, topics: list[tuple[str, int]], replication_factor: int = 1) -> list[str]:
    """Creates what is missing; topics that already exist are left as they are."""
    return await ensure_topics(bootstrap, topics, replication_factor=replication_factor)
