"""Payment methods per currency (core.methods): one rule for Checkout, the pay form, receipts and emails,
and [payments] switching SEPA and Bacs debits on."""
from __future__ import annotations

import re

import pytest
from test_site import CUSTOMERS, ENTRIES, pages_of, sections

from portal.build.render import SiteRenderer
from portal.core.methods import (
    METHODS,
    clearing,
    clearing_in_words,
    is_bank_debit,
    method_name,
    methods_in_words,
    payment_methods,
)

BOTH = frozenset({"sepa_debit", "bacs_debit"})


@pytest.mark.parametrize(("currency", "enabled", "methods", "words"), [
    ("USD", (), ["card", "us_bank_account"], "Card or US bank account"),
    ("usd", BOTH, ["card", "us_bank_account"], "Card or US bank account"),
    ("EUR", (), ["card"], "Card"),
    ("EUR", BOTH, ["card", "sepa_debit"], "Card or SEPA bank debit"),
    ("EUR", {"bacs_debit"}, ["card"], "Card"),
    ("GBP", (), ["card"], "Card"),
    ("GBP", BOTH, ["card", "bacs_debit"], "Card or UK bank debit (Bacs)"),
    ("GBP", {"sepa_debit"}, ["card"], "Card"),
    ("JPY", BOTH, ["card"], "Card"),
])
def test_each_currency_offers_card_and_the_bank_debit_of_its_own_currency_when_switched_on(
        currency, enabled, methods, words):
    assert payment_methods(currency, enabled) == methods
    assert methods_in_words(currency, enabled) == words
    assert bool(clearing_in_words(currency, enabled)) == (len(methods) > 1)


def test_bank_debits_are_one_rule_with_their_timing_from_one_table():
    assert [m for m in METHODS if is_bank_debit(m)] == ["us_bank_account", "sepa_debit", "bacs_debit"]
    assert not is_bank_debit("card") and not is_bank_debit("klarna")
    assert clearing("us_bank_account") == "take 3 to 5 business days to clear"
    assert clearing("sepa_debit") == "take 5 to 14 business days to clear"
    assert clearing("bacs_debit") == "take 4 to 7 business days to clear"
    assert clearing_in_words("EUR", BOTH) == "Bank payments take 5 to 14 business days to clear"
    assert (method_name("sepa_debit"), method_name("bacs_debit"), method_name("ideal")) == (
        "SEPA Direct Debit", "Bacs Direct Debit", "ideal")
    for m in METHODS.values():  # each debit is of one currency, so Checkout never offers one it refuses
        assert bool(m.currency) == m.is_bank_debit


# -- the setting -----------------------------------------------------------------------------------

def test_payments_settings_default_off_and_switch_each_debit_on(tmp_path):
    from test_settings import COMPANY, load
    assert load(tmp_path, COMPANY).payment_methods == frozenset()
    s = load(tmp_path, COMPANY + "[payments]\nsepa_debit = true\nbacs_debit = false\n")
    assert s.payment_methods == {"sepa_debit"}


def test_a_bad_payments_value_is_reported_at_its_line(tmp_path):
    from test_settings import COMPANY, problems
    found = problems(tmp_path, COMPANY + '\n[payments]\nsepa_debit = true\nbacs_debit = "yes"\nach = true\n')
    assert sorted(found) == [
        "content/settings.toml:6: 'bacs_debit' in [payments]: 'yes' is not true or false (true offers Bacs "
        "Direct Debit in GBP once it is activated in Stripe's Dashboard)",
        "content/settings.toml:7: unknown key 'ach' in [payments] (expected one of bacs_debit, sepa_debit)",
    ]


# -- the statement ---------------------------------------------------------------------------------

def hints(project) -> dict[str, str]:
    """Each pay form's hint by currency, over every page."""
    found = re.findall(r'<legend>Pay online \((\w+)\)</legend>.*?<p class="hint">([^<]+)</p>',
                       "".join(pages_of(project).values()), re.S)
    return dict(found)


def switch(project, text: str) -> None:
    path = project.root / "content" / "settings.toml"
    body = re.sub(r"\n\[payments\][^\[]*", "\n", path.read_text())
    path.write_text(body + (f"\n[payments]\n{text}\n" if text else ""))


@pytest.fixture
def ledger(project):
    project.write("customers.csv", CUSTOMERS)
    project.write("e.csv", ENTRIES + "2026-11-03,C3,invoice,G3,50.00,,2026-12-01,,,\n")  # a GBP balance to pay
    return project


def test_the_pay_form_says_card_only_in_eur_and_gbp_until_the_setting_offers_their_debits(ledger):
    ledger.build()
    said = hints(ledger)
    assert said["EUR"].startswith("Card. Minimum €1.00.") and said["GBP"].startswith("Card. Minimum £1.00.")
    assert said["USD"].startswith("Card or US bank account. Bank payments take 3 to 5 business days to clear. ")
    switch(ledger, "sepa_debit = true\nbacs_debit = true")
    ledger.build()  # the settings are among every page's inputs: the next build renders the pages again
    said = hints(ledger)
    assert said["EUR"].startswith("Card or SEPA bank debit. Bank payments take 5 to 14 business days to clear. ")
    assert said["GBP"].startswith("Card or UK bank debit (Bacs). Bank payments take 4 to 7 business days to clear. ")
    assert said["JPY"].startswith("Card. ")
    switch(ledger, "sepa_debit = true")
    ledger.build()
    said = hints(ledger)
    assert said["EUR"].startswith("Card or SEPA bank debit.") and said["GBP"].startswith("Card. ")


def test_with_debits_on_the_composed_sections_equal_the_template(ledger):
    from datetime import date

    from portal.build import state as st
    from portal.build.lookup import accounts_of
    switch(ledger, "sepa_debit = true\nbacs_debit = true")
    ledger.build()
    s = ledger.settings()
    body = st.load_both(s.state_dir)[1]
    renderer = SiteRenderer(s, [])
    assert renderer.fast_sections
    n = 0
    for _, accts in accounts_of(s, body, sorted(body.pages), date(2026, 11, 25)).values():
        for a in accts:
            fast, reference = sections(renderer, a, multi=len(accts) > 1)
            assert fast == reference
            n += 1
    assert n >= 4
