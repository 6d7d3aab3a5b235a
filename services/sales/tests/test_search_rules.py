"""Unit tests of the free-text customer search rules: one Latin spelling for Kazakh, Russian and
Latin names, and what a search box text is taken for."""

import pytest

from crm_sales.domain.customers import SearchTerms, ValueRuleError, customer_search_text, search_text_of
from crm_shared.testing import Identities


@pytest.mark.parametrize(
    "spellings",
    [
        ("Әлия", "Алия", "Aliya", "ALIYA", "Älia"),
        ("Сейтқали", "Сейткали", "Сейітқали", "Seitkali", "seitqali"),
        ("Айгерим", "Aigerim", "Aygerim"),
        ("Нұрлан", "Нурлан", "Nurlan"),
        ("Жанар", "Zhanar", "Janar"),
        ("Хасен", "Khasen", "Hasen"),
        ("Қуаныш", "Kuanysh", "Quanysh"),
        ("Ерлан", "Yerlan", "Erlan"),
        ("Юлия", "Yulia", "Iuliia"),
    ],
)
def test_every_spelling_of_a_name_gives_one_search_text(spellings):
    assert len({search_text_of(spelling) for spelling in spellings}) == 1, {s: search_text_of(s) for s in spellings}


def test_the_search_text_holds_every_name_and_the_email():
    text = customer_search_text(
        first_name="Әлия", last_name="Сейітқали", middle_name="Нұрланқызы", email="aliya.s@Mail.kz"
    )
    for word in ("alia", "seitkali", "nurlan", "mail", "kz"):
        assert word in text.split() or any(word in part for part in text.split())


def test_a_search_box_text_is_a_phone_an_identifier_an_email_or_words():
    ids = Identities(seed=13)
    iin = ids.iin()
    assert SearchTerms("8 (701) 123-45-67").phone == "+77011234567"
    assert SearchTerms(f" {iin} ").tax_id == iin
    email = SearchTerms("Aliya.S@mail.kz")
    assert email.email == "aliya.s@mail.kz" and email.phone is None
    words = SearchTerms("Aliya  СЕЙТҚАЛИ aliya")
    assert words.words == ("alia", "seitkali") and words.phone is None and words.tax_id is None
    assert SearchTerms("a b").words == ("a", "b")  # initials
    with pytest.raises(ValueRuleError):
        SearchTerms(" - a ")
