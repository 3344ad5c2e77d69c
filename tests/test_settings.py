"""settings.toml: every problem located, types aliases checked."""
from __future__ import annotations

import pytest

from portal import settings
from portal.model import InputError


def load(tmp_path, text):
    (tmp_path / "content").mkdir(exist_ok=True)
    (tmp_path / "content" / "settings.toml").write_text(text)
    return settings.load(tmp_path)


def problems(tmp_path, text):
    with pytest.raises(InputError) as e:
        load(tmp_path, text)
    return [str(p) for p in e.value.problems]


def test_invalid_toml_is_reported_at_its_line(tmp_path):
    assert problems(tmp_path, '[company]\nname = "X"\nbad = = 1\n') == [
        "content/settings.toml:3: not valid TOML: Invalid value (column 7)"]


def test_type_alias_to_an_unknown_type_is_reported_at_its_line(tmp_path):
    assert problems(tmp_path, '[company]\nname = "X"\n[ledger.types]\n"Sales Receipt" = "paymnet"\n') == [
        "content/settings.toml:4: [ledger.types] maps 'sales receipt' to 'paymnet' "
        "(expected one of invoice, credit, payment, refund, adjustment, writeoff)"]


def test_unknown_keys_and_missing_company_name_are_all_reported(tmp_path):
    assert problems(tmp_path, '[company]\nemail = "a@b.example"\n[portal]\nbase = "x"\n[extra]\n') == [
        "content/settings.toml:1: 'name' missing in [company] (the company name printed on every statement)",
        "content/settings.toml:4: unknown key 'base' in [portal] (expected one of base_url, checkout_origin, "
        "currency, min_payment, pay_url, recent_days)",
        "content/settings.toml:5: unknown section 'extra' (expected one of build, company, ledger, portal, smtp)",
    ]


def test_defaults(tmp_path):
    s = load(tmp_path, '[company]\nname = "X"\n')
    assert (s.currency, s.pay_url, str(s.min_payment), s.recent_days) == ("USD", "/pay", "1.00", 120)
    assert s.out == tmp_path.resolve() / "site" and s.ledger_dir == tmp_path.resolve() / "content" / "ledger"
