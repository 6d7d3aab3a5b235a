"""All three languages complete, without a browser: every console word has its kk and ru text (none
left empty or left in English), and every value the APIs send that the console shows as a word
(stages, statuses, kinds, categories, SLA policies such as "medium-individual", the ticket history's
"opened" ...) has its label in kk, ru and en. A new enum value, or a new word in one language only,
fails here until it is translated."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import get_args

import pytest

from crm_gateway import console
from crm_orders.domain.balance import BalanceStatus
from crm_orders.domain.catalog import ProductLine as OrderProductLine
from crm_orders.domain.lifecycle import ItemAction, ItemState, OrderState
from crm_sales.domain.customers import AddressKind, CustomerKind, CustomerStatus, Language
from crm_sales.domain.forecast import ForecastGroup
from crm_sales.domain.my_work import Due
from crm_sales.domain.pipeline import ActivityKind, LeadSource, LeadStatus, ProductLine, RelatedType, Stage
from crm_sales.events.publishers import lead_state, opportunity_state
from crm_shared.auth import Role
from crm_tickets.api import schemas as ticket_schemas
from crm_tickets.domain.routing import CATEGORIES, TEAMS
from crm_tickets.domain.sla import POLICIES_BY_NAME, PRIORITIES
from crm_tickets.domain.workflow import Status as TicketStatus

STATIC = Path(str(console.STATIC_DIR)) / "js"
LANGUAGES = ("en", "ru", "kk")


def messages(language: str) -> dict[str, str]:
    """Every key -> text of one language, over all the message parts."""
    found: dict[str, str] = {}
    for part in sorted((STATIC / "messages").glob("*.js")):
        block = re.search(rf"^export const {language} = \{{(.*?)^\}};", part.read_text(), re.S | re.M)
        assert block, f"no {language} block in {part.name}"
        found |= dict(re.findall(r'"([\w.-]+)":\s*"((?:[^"\\]|\\.)*)"', block.group(1)))
    return found


def literal_values(model: type, field: str) -> tuple[str, ...]:
    annotation = model.model_fields[field].annotation
    return tuple(v for arg in (annotation, *get_args(annotation)) for v in get_args(arg) if isinstance(v, str))


def audit_actions() -> set[str]:
    """The actions sales and orders write into the history of customers, leads, opportunities and
    orders (the console shows them by label)."""
    import crm_orders.services as order_services
    import crm_sales.services as services

    source = "".join(path.read_text() for path in Path(services.__file__).parent.glob("*.py"))
    orders = "".join(path.read_text() for path in Path(order_services.__file__).parent.glob("*.py"))
    actions = set(re.findall(r'\baction="(\w+)"', source + orders))
    actions |= set(re.findall(r'"(customer_(?:merged|erased))"', orders))
    actions |= set(re.findall(r'\{Stage\.CLOSED_WON: "(\w+)", Stage\.CLOSED_LOST: "(\w+)"\}', source)[0])
    actions |= set(re.findall(r'action="(\w+)" if \w+ else "(\w+)"', source)[0])
    return actions - {"duplicate_check", "personal_data_exported"}  # never shown in a history table


# label group (label("<group>", value) in the views) -> the values the APIs send
LABELLED: dict[str, set[str]] = {
    group: {str(v) for v in values}
    for group, values in {
        "stage": set(Stage),
        "lead_status": set(LeadStatus),
        "source": set(LeadSource),
        "product_line": set(ProductLine) | set(OrderProductLine),
        "kind": set(CustomerKind),
        "status": set(CustomerStatus),
        "language": set(Language),
        "address": set(AddressKind),
        "activity": set(ActivityKind),
        "entity": set(RelatedType) | {"activity"},
        "due": set(Due),
        "forecast_group": set(ForecastGroup),
        "role": set(Role),
        "ticket": set(TicketStatus),
        "category": set(CATEGORIES),
        "team": set(TEAMS),
        "priority": set(PRIORITIES),
        "severity": set(get_args(ticket_schemas.Severity)),
        "channel": set(get_args(ticket_schemas.Channel)),
        "sla_policy": set(POLICIES_BY_NAME),
        "ticket_reason": {"opened"},
        "note_for": set(literal_values(ticket_schemas.NoteCreate, "visibility")),
        "relation": set(literal_values(ticket_schemas.RelationCreate, "kind")),
        "direction": set(literal_values(ticket_schemas.InteractionCreate, "direction")),
        "outcome": set(literal_values(ticket_schemas.InteractionEnd, "outcome")),
        "order": set(OrderState),
        "item_state": set(ItemState),
        "order_action": set(ItemAction) - {"add"},  # an added line shows the offering alone
        "balance": set(BalanceStatus),
        "audit": audit_actions(),
    }.items()
}
# The fields a lead's or an opportunity's history shows by name (ids and bookkeeping aside).
HISTORY_FIELDS = {
    key for state in (lead_state, opportunity_state) for key in re.findall(r'"(\w+)":', inspect.getsource(state))
} - {"id", "version", "created_at", "updated_at"} | {"state", "items"}  # and an order's


# Words that are the same in every language: names of things, not words to translate.
SAME_IN_EVERY_LANGUAGE = {"order_source.tmf"}  # "TM Forum API"


def test_no_word_is_left_in_english():
    english = messages("en")
    for language in ("ru", "kk"):
        texts = messages(language)
        untranslated = sorted(
            key
            for key, text in english.items()
            if texts.get(key) == text and re.search("[a-z]{3}", text) and key not in SAME_IN_EVERY_LANGUAGE
        )
        assert not untranslated, f"{language} leaves {untranslated} in English"


def test_every_word_has_its_kazakh_and_russian_text():
    english = messages("en")
    assert len(english) > 500
    for language in ("ru", "kk"):
        texts = messages(language)
        assert set(texts) == set(english), f"{language}: {sorted(set(english) ^ set(texts))}"
        blank = sorted(key for key, text in texts.items() if not text.strip())
        assert not blank, f"{language} leaves {blank} empty"


@pytest.mark.parametrize("group", sorted(LABELLED))
def test_every_value_the_console_shows_has_its_label_in_each_language(group):
    values = LABELLED[group]
    assert values, group
    for language in LANGUAGES:
        texts = messages(language)
        missing = sorted(v for v in values if f"{group}.{v}" not in texts)
        assert not missing, f"{language} has no label for {group} {missing}"
    english = messages("en")
    for language in ("ru", "kk"):
        texts = messages(language)
        untranslated = sorted(
            v
            for v in values
            if texts[f"{group}.{v}"] == english[f"{group}.{v}"] and re.search("[a-z]", english[f"{group}.{v}"])
        )
        assert not untranslated, f"{language} shows {group} {untranslated} in English"


def test_every_field_of_a_lead_opportunity_or_order_history_has_its_name():
    for language in LANGUAGES:
        missing = sorted(f for f in HISTORY_FIELDS if f"field.{f}" not in messages(language))
        assert not missing, f"{language} has no name for the history fields {missing}"
