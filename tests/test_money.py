"""Money: amounts as exports write them, one rounding rule, minor units, display form."""
from __future__ import annotations

from decimal import Decimal

import pytest

from portal.core.money import ExtraDecimals, MoneyError, fmt, from_minor, parse_amount, plain, to_minor


@pytest.mark.parametrize("text, expected", [
    ("1234.5", "1234.50"),
    ("1234", "1234.00"),
    (" 12.30 ", "12.30"),
    (".5", "0.50"),
    ("1,234.50", "1234.50"),
    ("1,234,567.89", "1234567.89"),
    ("1,234", "1234.00"),
    ("1\u00a0234.50", "1234.50"),
    ("(12.00)", "-12.00"),
    ("( 1,200.00 )", "-1200.00"),
    ("-3", "-3.00"),
    ("+3", "3.00"),
    ("$10", "10.00"),
    ("-$10.25", "-10.25"),
    ("$-10.25", "-10.25"),
    ("($1,000.00)", "-1000.00"),
    ("€7.10", "7.10"),
    ("£0.99", "0.99"),
    ("0", "0.00"),
])
def test_parse_amount_reads_the_forms_exports_write(text, expected):
    value = parse_amount(text, "USD")
    assert isinstance(value, Decimal)
    assert str(value) == expected


@pytest.mark.parametrize("text, expected", [
    ("0.005", "0.01"),
    ("0.004", "0.00"),
    ("0.125", "0.13"),  # half up, not the banker's 0.12
    ("2.675", "2.68"),
    ("-0.005", "-0.01"),  # half away from zero on both sides
    ("(0.125)", "-0.13"),
    ("1.994999", "1.99"),
])
def test_parse_amount_rounds_half_up_to_the_minor_unit(text, expected):
    assert str(parse_amount(text, "USD")) == expected


@pytest.mark.parametrize("text, expected", [
    ("184000", "184000"),
    ("184,000", "184000"),
    ("¥184,000", "184000"),
    ("2.5", "3"),
    ("3.5", "4"),
    ("-2.5", "-3"),
    ("99.4", "99"),
])
def test_jpy_amounts_have_no_minor_unit(text, expected):
    assert str(parse_amount(text, "JPY")) == expected


@pytest.mark.parametrize("text, expected", [
    ("1.234", "1.234"),
    ("1.2345", "1.235"),
    ("1.2344", "1.234"),
    ("12", "12.000"),
    ("1,000.5", "1000.500"),
])
def test_bhd_amounts_have_three_decimals(text, expected):
    assert str(parse_amount(text, "BHD")) == expected


@pytest.mark.parametrize("text", [
    "abc", "12abc", "1.2.3", "--5", "+-5", "1e3", "1E+05", "1.23E+11", "1_000", "0x10", "12,34",
    "1234,567", "1,23.45", ",5", "$", ".", "-", "()", "١٢٣", "１２３", "10$", "USD 10", "€1.234,50",
])
def test_junk_is_rejected_not_guessed(text):
    with pytest.raises(MoneyError, match="is not an amount"):
        parse_amount(text, "USD")


@pytest.mark.parametrize("text", ["NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "(inf)"])
def test_nan_and_infinity_are_rejected(text):
    with pytest.raises(MoneyError, match="is not an amount"):
        parse_amount(text, "USD")


@pytest.mark.parametrize("text", ["", "   ", "\u00a0"])
def test_empty_amount_is_rejected(text):
    with pytest.raises(MoneyError, match="empty amount"):
        parse_amount(text, "USD")


def test_an_amount_beyond_decimal_precision_is_a_money_error_not_a_crash():
    with pytest.raises(MoneyError, match="too large"):
        parse_amount("9" * 29, "USD")


def test_money_error_is_a_value_error():
    assert issubclass(MoneyError, ValueError)


@pytest.mark.parametrize("amount, currency, units", [
    ("12.34", "USD", 1234),
    ("0.01", "USD", 1),
    ("-5.00", "EUR", -500),
    ("1000000.00", "USD", 100000000),
    ("184000", "JPY", 184000),
    ("1", "JPY", 1),
    ("1.234", "BHD", 1234),
    ("0.001", "KWD", 1),
])
def test_to_minor_and_from_minor_round_trip(amount, currency, units):
    value = Decimal(amount)
    assert to_minor(value, currency) == units
    assert isinstance(to_minor(value, currency), int)
    back = from_minor(units, currency)
    assert back == value
    assert isinstance(back, Decimal)


def test_from_minor_keeps_the_currency_exponent():
    assert str(from_minor(1234, "USD")) == "12.34"
    assert str(from_minor(500, "USD")) == "5.00"
    assert str(from_minor(184000, "JPY")) == "184000"
    assert str(from_minor(1234, "BHD")) == "1.234"


def test_to_minor_rounds_half_up_first():
    assert to_minor(Decimal("12.345"), "USD") == 1235
    assert to_minor(Decimal("12.344"), "USD") == 1234
    assert to_minor(Decimal("2.5"), "JPY") == 3


@pytest.mark.parametrize("amount, currency, shown", [
    ("1234.50", "USD", "$1,234.50"),
    ("1234567.8", "USD", "$1,234,567.80"),
    ("0", "USD", "$0.00"),
    ("-12.00", "EUR", "-€12.00"),
    ("99.99", "GBP", "£99.99"),
    ("184000", "JPY", "¥184,000"),
    ("10.00", "SEK", "SEK 10.00"),
    ("1234.5", "CAD", "CA$1,234.50"),
    ("-3.5", "CHF", "-CHF 3.50"),
    ("1.234", "BHD", "BHD 1.234"),
])
def test_fmt_shows_symbol_separators_and_minor_unit(amount, currency, shown):
    assert fmt(Decimal(amount), currency) == shown


@pytest.mark.parametrize("amount, currency, shown", [
    ("1234.5", "USD", "1234.50"),
    ("-12", "EUR", "-12.00"),
    ("184000", "JPY", "184000"),
    ("1.2", "BHD", "1.200"),
])
def test_plain_is_the_machine_form(amount, currency, shown):
    assert plain(Decimal(amount), currency) == shown


@pytest.mark.parametrize("text, currency, expected", [
    ("12.34", "USD", "12.34"), ("12.340", "USD", "12.34"), ("12.3", "USD", "12.30"), ("(1,000.500)", "USD", "-1000.50"),
    ("184000.00", "JPY", "184000"), ("1.2340", "KWD", "1.234")])
def test_exact_amounts_may_have_trailing_zeros(text, currency, expected):
    assert str(parse_amount(text, currency, exact=True)) == expected


@pytest.mark.parametrize("text, currency, rounded", [
    ("12.345", "USD", "12.35"), ("0.001", "USD", "0.00"), ("(2.675)", "USD", "-2.68"), ("1500.5", "JPY", "1501"),
    ("1.2345", "KWD", "1.235")])
def test_an_exact_amount_with_more_decimals_than_its_currency_is_refused_not_rounded(text, currency, rounded):
    with pytest.raises(ExtraDecimals, match="has more decimals than") as e:
        parse_amount(text, currency, exact=True)
    assert str(e.value.rounded) == rounded == str(parse_amount(text, currency))  # what rounding would give
