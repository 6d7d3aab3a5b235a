"""Kafka consumers of the sales service (each idempotent through the shared inbox)."""
from dataclasses import dataclass
from typing import Awaitable, Callable


@dataclass(frozen=True)
class ConsumerSpec:
    name: str
    topics: list[str]
    handler: Callable[..., Awaitable[None]]


CONSUMERS: list[ConsumerSpec] = []
