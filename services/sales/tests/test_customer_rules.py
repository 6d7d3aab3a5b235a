"""Unit tests of the customer rules: IIN/BIN check digits and dates, phone normalisation,
names, e-mail, postal codes, the search key, and the request bodies built on them."""

from dataclasses import asdict
from datetime import date

import pytest
from pydantic import TypeAdapter, ValidationError

from crm_sales.api.customer_schemas import CustomerCreate, CustomerUpdate
from crm_sales.domain import customers as rules
from crm_sales.seed import FIXED, demo_customers
from crm_shared.identifiers import (
    IdentifierError,
    check_digit,
    make_bin,
    make_iin,
    parse_bin,
    parse_iin,
)
from crm_shared.phones import PhoneError, is_mobile, normalize_phone
from crm_shared.testing import Identities

# --- IIN / BIN -----------------------------------------------------------------------------------


def test_check_digit_follows_the_official_two_pass_rule():
    # Kazakhtelecom's published BIN: the first pass already gives the check digit.
    assert check_digit("94074000091") == 1
    assert parse_bin("940740000911").entity_type == "resident"
    # 00000000010: first pass 10*1=10 -> second pass weight 1 at position 10 gives 1.
    assert check_digit("00000000010") == 1
    # Digits for which both passes give 10 have no valid check digit at all.
    impossible = next(f"{n:011d}" for n in range(10**6) if check_digit(f"{n:011d}") is None)
    with pytest.raises(IdentifierError, match="no valid check digit"):
        parse_iin(impossible + "0")


def test_iin_gives_birth_date_and_sex():
    iin = parse_iin("900515412345")
    assert iin.birth_date == date(1990, 5, 15)
    assert iin.sex == "female"
    male_2000s = make_iin(date(2003, 2, 28), False, 17)
    assert parse_iin(male_2000s).birth_date == date(2003, 2, 28)
    assert parse_iin(male_2000s).sex == "male"
    assert parse_iin(make_iin(date(1899, 12, 31), True, 5)).birth_date == date(1899, 12, 31)


@pytest.mark.parametrize(
    "value, message",
    [
        ("900515412346", "check digit does not match"),
        ("90051541234", "exactly 12 digits"),
        ("9005154123456", "exactly 12 digits"),
        ("90051541234a", "exactly 12 digits"),
        ("９００５１５４１２３４５", "exactly 12 digits"),  # full-width digits are not ASCII digits
        ("", "exactly 12 digits"),
    ],
)
def test_iin_format_errors_say_what_is_wrong(value, message):
    with pytest.raises(IdentifierError, match=message):
        parse_iin(value)


def test_iin_with_impossible_dates_is_rejected():
    def with_check_digit(first_eleven: str) -> str:
        for serial in range(10):
            candidate = first_eleven[:-1] + str(serial)
            digit = check_digit(candidate)
            if digit is not None:
                return candidate + str(digit)
        raise AssertionError("no candidate")

    for first_eleven, fragment in [
        ("9002304" + "1234", "1990-02-30"),  # 30 February
        ("9013014" + "1234", "1990-13-01"),  # month 13
        ("9104004" + "1234", "1991-04-00"),  # day 0
        ("0102295" + "1234", "2001-02-29"),  # not a leap year
    ]:
        with pytest.raises(IdentifierError, match=f"not a real birth date \\({fragment}\\)"):
            parse_iin(with_check_digit(first_eleven))
    with pytest.raises(IdentifierError, match="digit 7"):
        parse_iin(with_check_digit("9005157" + "1234"))
    with pytest.raises(IdentifierError, match="digit 7"):
        parse_iin(with_check_digit("9005150" + "1234"))
    future = make_iin(date(2099, 1, 1), False, 1) or make_iin(date(2099, 1, 1), False, 2)
    with pytest.raises(IdentifierError, match="in the future"):
        parse_iin(future)


def test_leap_day_is_a_real_birth_date():
    assert parse_iin(make_iin(date(2000, 2, 29), True, 42) or make_iin(date(2000, 2, 29), True, 43)).birth_date == date(
        2000, 2, 29
    )


def test_bin_needs_a_legal_entity_type_and_a_month():
    assert parse_bin("040540123456").entity_type == "resident"
    assert (
        parse_bin(make_bin(date(2010, 7, 1), 5, 77) or make_bin(date(2010, 7, 1), 5, 78)).entity_type == "non_resident"
    )
    with pytest.raises(IdentifierError, match="digit 5 must be the legal-entity type"):
        parse_bin("900515412345")  # an IIN is not a BIN
    no_month = next(v for v in (f"0413400{n:04d}" for n in range(100)) if check_digit(v) is not None)
    with pytest.raises(IdentifierError, match="registration month"):
        parse_bin(no_month + str(check_digit(no_month)))
    with pytest.raises(IdentifierError, match="check digit does not match"):
        parse_bin("040540123457")


def test_generated_identifiers_are_valid_and_distinct():
    ids = Identities(seed=7)
    iins = {ids.iin() for _ in range(300)}
    bins = {ids.bin() for _ in range(300)}
    assert len(iins) == 300 and len(bins) == 300
    for value in iins:
        parse_iin(value)
    for value in bins:
        parse_bin(value)


# --- phones --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, e164",
    [
        ("8 701 123 45 67", "+77011234567"),
        ("+7 (701) 1234567", "+77011234567"),
        ("87011234567", "+77011234567"),
        ("7011234567", "+77011234567"),
        ("+7 701 123-45-67", "+77011234567"),
        ("77011234567", "+77011234567"),
        ("+77011234567", "+77011234567"),
        (" 8-701-123-45-67 ", "+77011234567"),
        ("8.701.123.45.67", "+77011234567"),
        ("007 701 123 45 67", "+77011234567"),
        ("8(7172)123456", "+77172123456"),  # Astana city number
        ("8 (727) 250-00-00", "+77272500000"),  # Almaty city number
        ("+7 747 000 00 00", "+77470000000"),
        ("8 600 123 45 67", "+76001234567"),
    ],
)
def test_phone_notations_normalise_to_e164(raw, e164):
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize(
    "raw, message",
    [
        ("+7 916 123 45 67", "not a Kazakhstan number"),  # Moscow mobile
        ("8 495 123 45 67", "not a Kazakhstan number"),  # Moscow city
        ("+996 555 123 456", "country code must be \\+7"),  # Kyrgyzstan
        ("8 701 123 45", "10 digits"),
        ("8 701 123 45 678", "10 digits"),
        ("701-ABC-4567", "only digits"),
        ("+7 701 123 45 67 ext 5", "only digits"),
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("8" * 50, "too long"),
    ],
)
def test_other_numbers_are_rejected_with_the_reason(raw, message):
    with pytest.raises(PhoneError, match=message):
        normalize_phone(raw)


def test_mobile_ranges():
    assert is_mobile("+77011234567") and is_mobile("+77471234567") and is_mobile("+77771234567")
    assert not is_mobile("+77172123456")


# --- names, e-mail, postal codes, search key -----------------------------------------------------


def test_names_in_any_script_are_tidied():
    assert rules.person_name("  Айгерім  ") == "Айгерім"
    assert rules.person_name("Anna-Maria  O'Neil") == "Anna-Maria O'Neil"
    for bad in ("", "   ", "R2D2", "<script>", "a" * 101):
        with pytest.raises(rules.ValueRuleError):
            rules.person_name(bad)
    assert rules.legal_name(' ТОО  "Караганда Сталь" ') == 'ТОО "Караганда Сталь"'
    with pytest.raises(rules.ValueRuleError, match="control characters"):
        rules.legal_name("Acme\x00 LLP")


def test_email_and_postal_code():
    assert rules.email("Aigerim@Example.KZ") == "Aigerim@example.kz"
    for bad in ("aigerim", "a@b", "a b@c.kz", "@example.kz", "a@.kz"):
        with pytest.raises(rules.ValueRuleError, match="not a valid e-mail"):
            rules.email(bad)
    assert rules.postal_code("050000") == "050000"
    assert rules.postal_code("a15e3c") == "A15E3C"
    with pytest.raises(rules.ValueRuleError):
        rules.postal_code("05000")


def test_search_key_is_last_first_middle_case_folded():
    key = rules.name_key("individual", first_name="Aigerim", last_name="Seitkali", middle_name="Nurlanovna")
    assert key == "seitkali aigerim nurlanovna"
    assert rules.name_key("business", legal_name="ТОО «Караганда Сталь»") == "караганда сталь"
    assert rules.name_key("business", legal_name="Steppe Logistics LLP") == "steppe logistics"
    assert rules.name_key("business", legal_name="ТОО") == "тоо"
    assert rules.search_key("  SEITKALI   Aig ") == "seitkali aig"
    assert rules.escape_like("50%_off\\") == "50\\%\\_off\\\\"


# --- request bodies ------------------------------------------------------------------------------

CREATE = TypeAdapter(CustomerCreate)


def _errors(body) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        CREATE.validate_python(body)
    return {".".join(str(p) for p in e["loc"][1:]): e["msg"] for e in info.value.errors()}


def test_create_body_normalises_and_names_the_field_of_each_error():
    body = CREATE.validate_python(
        {
            "kind": "individual",
            "iin": "900515412345",
            "first_name": " Aigerim ",
            "last_name": "Seitkali",
            "phone": "8 701 123 45 67",
        }
    )
    assert body.phone == "+77011234567" and body.first_name == "Aigerim" and body.language == "kk"
    assert _errors(
        {"kind": "individual", "iin": "900515412346", "first_name": "A", "last_name": "B", "phone": "87011234567"}
    ) == {"iin": "check digit does not match"}
    assert _errors({"kind": "business", "bin": "040540123456", "legal_name": "X", "phone": "+7 916 000 00 00"}) == {
        "phone": "is not a Kazakhstan number (+7 916 ...; Kazakhstan numbers are +7 6xx or +7 7xx)"
    }
    assert "nickname" in _errors(
        {
            "kind": "individual",
            "iin": "900515412345",
            "first_name": "A",
            "last_name": "B",
            "phone": "87011234567",
            "nickname": "x",
        }
    )
    # Consents must be real booleans, not "yes".
    assert "marketing_consent" in _errors(
        {
            "kind": "business",
            "bin": "040540123456",
            "legal_name": "X",
            "phone": "87011234567",
            "marketing_consent": "yes",
        }
    )
    # Contact persons belong to businesses only.
    assert "contacts" in _errors(
        {
            "kind": "individual",
            "iin": "900515412345",
            "first_name": "A",
            "last_name": "B",
            "phone": "87011234567",
            "contacts": [],
        }
    )


def test_update_body_knows_which_fields_were_sent():
    patch = CustomerUpdate.model_validate({"email": None, "version": 3})
    assert patch.model_fields_set == {"email", "version"}
    with pytest.raises(ValidationError):
        CustomerUpdate.model_validate({"status": "merged"})


def test_demo_data_is_valid_and_stable():
    first, second = demo_customers(120), demo_customers(120)
    assert [asdict(r) for _, r in first] == [asdict(r) for _, r in second]
    tax_ids = [r.iin if r.kind == "individual" else r.bin for _, r in first]
    phones = [r.phone for _, r in first]
    assert len(set(tax_ids)) == len(tax_ids) and len(set(phones)) == len(phones)
    assert [r for _, r in first[: len(FIXED)]] == [r for _, r in FIXED]
    assert {r.branch_code for _, r in first} >= {"ALA-01", "ALA-02", "KAR-01", "AST-01"}
