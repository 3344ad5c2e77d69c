"""settings.toml: every value checked, every problem located at its line, all reported together."""
from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import REPO

from portal.cli import main
from portal.core.records import InputError
from portal.ledger import settings

COMPANY = '[company]\nname = "X"\n'


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch):
    """The environment overrides are unset unless a test sets them."""
    monkeypatch.delenv("PORTAL_CHECKOUT_ORIGIN", raising=False)
    monkeypatch.delenv("PORTAL_TRUSTED_PROXIES", raising=False)


def load(tmp_path, text):
    (tmp_path / "content").mkdir(exist_ok=True)
    (tmp_path / "content" / "settings.toml").write_text(text)
    return settings.load(tmp_path)


def problems(tmp_path, text):
    with pytest.raises(InputError) as e:
        load(tmp_path, text)
    return [str(p) for p in e.value.problems]


def one_problem(tmp_path, text):
    found = problems(tmp_path, text)
    assert len(found) == 1, found
    return found[0]


def test_invalid_toml_is_reported_at_its_line(tmp_path):
    assert problems(tmp_path, '[company]\nname = "X"\nbad = = 1\n') == [
        "content/settings.toml:3: not valid TOML: Invalid value (column 7)"]


def test_a_file_that_is_not_utf8_is_reported_at_the_line_of_the_first_bad_byte(tmp_path):
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "settings.toml").write_bytes(b'[company]\nname = "X"\naddress = "Caf\xe9 Street"\n')
    with pytest.raises(InputError) as e:
        settings.load(tmp_path)
    assert [str(p) for p in e.value.problems] == [
        "content/settings.toml:3: not UTF-8 text (save the file as UTF-8)"]


def test_a_utf8_file_with_a_byte_order_mark_reads(tmp_path):
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "settings.toml").write_bytes('\ufeff[company]\nname = "Café"\n'.encode())
    assert settings.load(tmp_path).company["name"] == "Café"


def test_type_alias_to_an_unknown_type_is_reported_at_its_line(tmp_path):
    assert problems(tmp_path, '[company]\nname = "X"\n[ledger.types]\n"Sales Receipt" = "paymnet"\n') == [
        "content/settings.toml:4: [ledger.types] maps 'sales receipt' to 'paymnet' "
        "(expected one of invoice, credit, payment, refund, adjustment, writeoff)"]


def test_unknown_keys_and_missing_company_name_are_all_reported(tmp_path):
    assert problems(tmp_path, '[company]\nemail = "a@b.example"\n[portal]\nbase = "x"\n[extra]\n') == [
        "content/settings.toml:1: 'name' missing in [company] (the company name printed on every statement)",
        "content/settings.toml:4: unknown key 'base' in [portal] (expected one of base_url, checkout_origin, "
        "currency, min_payment, pay_url, recent_days, timezone, trusted_proxies)",
        "content/settings.toml:5: unknown section 'extra' "
        "(expected one of build, company, import, ledger, payments, portal, reminders, smtp)",
    ]


def test_defaults(tmp_path):
    s = load(tmp_path, COMPANY)
    assert (s.currency, s.pay_url, str(s.min_payment), s.recent_days) == ("USD", "/pay", "1.00", 120)
    assert s.out == tmp_path.resolve() / "site" and s.ledger_dir == tmp_path.resolve() / "content" / "ledger"
    assert (s.timezone, s.trusted_proxies, s.checkout_origin) == ("", 0, "https://checkout.stripe.com")


def test_the_demo_settings_load():
    s = settings.load(REPO)
    assert s.company["name"] == "Harbor & Pine Supply Co." and s.min_payment == Decimal("1.00")


# -- min_payment ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    '"NaN"', '"Infinity"', '"-Infinity"', '"1e400"', '"1e2"', '"$5"', '"1,000.00"', '"five"', '""', "nan", "inf",
    "true", "[1]",
])
def test_min_payment_that_is_not_a_plain_finite_amount_is_reported_at_its_line(tmp_path, value):
    message = one_problem(tmp_path, f'{COMPANY}[portal]\nmin_payment = {value}\n')
    assert message.startswith("content/settings.toml:4: 'min_payment' in [portal]: ")
    assert message.endswith('is not a plain decimal amount (expected a quoted amount such as "1.00")')


@pytest.mark.parametrize("value", ['"-5"', '"0"', '"0.00"', '"0.001"', "-5", "0"])
def test_min_payment_below_one_cent_is_reported(tmp_path, value):
    assert one_problem(tmp_path, f'{COMPANY}[portal]\nmin_payment = {value}\n').endswith(
        "is below one minor unit of USD (expected at least 0.01)")


def test_min_payment_with_more_decimals_than_the_currency_has_is_reported(tmp_path):
    assert one_problem(tmp_path, f'{COMPANY}[portal]\nmin_payment = "1.005"\n') == (
        "content/settings.toml:4: 'min_payment' in [portal]: '1.005' has more decimals than USD has "
        "(expected at most 2 decimals)")
    assert one_problem(tmp_path, f'{COMPANY}[portal]\ncurrency = "JPY"\nmin_payment = "1.5"\n') == (
        "content/settings.toml:5: 'min_payment' in [portal]: '1.5' has more decimals than JPY has "
        "(expected a whole number)")


def test_min_payment_above_what_one_payment_can_be_is_reported(tmp_path):
    assert one_problem(tmp_path, f'{COMPANY}[portal]\nmin_payment = "1000000"\n') == (
        "content/settings.toml:4: 'min_payment' in [portal]: '1000000' is more than one payment can be "
        "(expected at most 999999.99)")
    assert one_problem(tmp_path, f'{COMPANY}[portal]\nmin_payment = {"9" * 500}\n').endswith(
        "is more than one payment can be (expected at most 999999.99)")


@pytest.mark.parametrize(("value", "currency", "expected"), [
    ('"1.00"', "USD", "1.00"), ('"2.5"', "USD", "2.50"), ('"0.01"', "USD", "0.01"), ('"1.500"', "USD", "1.50"),
    ("1.5", "USD", "1.50"), ("3", "USD", "3.00"), ("0.1", "USD", "0.10"), ('"100"', "JPY", "100"),
    ("100", "JPY", "100"), ('"0.005"', "KWD", "0.005"),
])
def test_min_payment_is_read_as_an_exact_decimal_in_the_portal_currency(tmp_path, value, currency, expected):
    s = load(tmp_path, f'{COMPANY}[portal]\ncurrency = "{currency}"\nmin_payment = {value}\n')
    assert type(s.min_payment) is Decimal and str(s.min_payment) == expected


def test_a_toml_number_for_min_payment_is_read_from_its_text_never_through_a_float(tmp_path):
    # As a float, 1.000000000000000001 is 1.0: read from the text it has more decimals than USD.
    assert one_problem(tmp_path, f'{COMPANY}[portal]\nmin_payment = 1.000000000000000001\n').endswith(
        "1.000000000000000001 has more decimals than USD has (expected at most 2 decimals)")


# -- addresses -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "value"), [
    ("base_url", "javascript:alert(1)"), ("base_url", "ftp://files.example"), ("base_url", "https://"),
    ("base_url", "example.com"), ("base_url", "/portal"), ("base_url", "//example.com"),
    ("base_url", "https://example.com/?a=1"), ("base_url", "https://example.com/#top"),
    ("base_url", "https://user:pw@example.com"), ("base_url", "https://exa mple.com"),
    ("base_url", "https://example.com:99999"), ("base_url", 'https://example.com/"><script>'),
    ("pay_url", "javascript:alert(1)"), ("pay_url", "data:text/html,x"), ("pay_url", "pay"),
    ("pay_url", "//evil.example/pay"), ("pay_url", "/\\evil.example/pay"), ("pay_url", "ftp://x.example/pay"),
    ("pay_url", "https://pay.example/pay#x"), ("pay_url", "/pay now"), ("pay_url", "https://a.example;b/pay"),
    ("checkout_origin", "javascript:alert(1)"), ("checkout_origin", "https://checkout.example/path"),
    ("checkout_origin", "https://checkout.example; script-src *"), ("checkout_origin", "'unsafe-inline'"),
    ("checkout_origin", "https://checkout.example?x"), ("checkout_origin", "https://checkout.example#x"),
    ("checkout_origin", "ftp://checkout.example"), ("checkout_origin", "https://check out.example"),
    ("checkout_origin", "https://checkout.example:0"), ("checkout_origin", "https://*.example"),
    ("checkout_origin", "https://user@checkout.example"), ("checkout_origin", "https://"),
])
def test_an_address_that_is_not_http_is_reported_at_its_line(tmp_path, key, value):
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    message = one_problem(tmp_path, f'{COMPANY}[portal]\n{key} = "{escaped}"\n')
    assert message.startswith(f"content/settings.toml:4: '{key}' in [portal]: {value!r} ")


@pytest.mark.parametrize("key", ["base_url", "pay_url", "checkout_origin"])
def test_an_address_that_is_not_text_is_reported(tmp_path, key):
    assert one_problem(tmp_path, f'{COMPANY}[portal]\n{key} = 8000\n') == (
        f"content/settings.toml:4: '{key}' in [portal]: 8000 is not text (expected a quoted string)")


def test_good_addresses_are_kept_without_a_trailing_slash(tmp_path):
    s = load(tmp_path, f'{COMPANY}[portal]\nbase_url = "https://example.com/statements/"\n'
                       'pay_url = "https://pay.example.com:8443/pay"\n'
                       'checkout_origin = "https://checkout.stripe.com/"\n')
    assert (s.base_url, s.pay_url, s.checkout_origin) == (
        "https://example.com/statements", "https://pay.example.com:8443/pay", "https://checkout.stripe.com")
    s = load(tmp_path, f'{COMPANY}[portal]\nbase_url = "http://127.0.0.1:8000"\npay_url = "/api/pay?v=2"\n'
                       'checkout_origin = "http://[::1]:8765"\n')
    assert (s.base_url, s.pay_url, s.checkout_origin) == ("http://127.0.0.1:8000", "/api/pay?v=2", "http://[::1]:8765")


def test_the_checkout_origin_from_the_environment_is_checked_the_same_way(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_CHECKOUT_ORIGIN", "https://x.example; script-src *")
    assert problems(tmp_path, COMPANY) == [
        "PORTAL_CHECKOUT_ORIGIN: 'https://x.example; script-src *' is not an origin "
        '(expected scheme://host[:port] such as "https://checkout.stripe.com")']
    monkeypatch.setenv("PORTAL_CHECKOUT_ORIGIN", "http://127.0.0.1:12111")
    assert load(tmp_path, COMPANY).checkout_origin == "http://127.0.0.1:12111"


# -- every other value has its type --------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ('[company]\nname = 5\n', "2: 'name' in [company]: 5 is not text (expected a quoted string)"),
    ('[company]\nname = ""\n',
     "2: 'name' missing in [company] (the company name printed on every statement)"),
    (f'{COMPANY}phone = 2075550148\n', "3: 'phone' in [company]: 2075550148 is not text (expected a quoted string)"),
    (f'{COMPANY}address = ["a", "b"]\n', "3: 'address' in [company]: a list is not text (expected a quoted string)"),
    (f'{COMPANY}email = "ar at example"\n',
     "3: 'email' in [company]: 'ar at example' is not an email address (expected an address such as "
     '"ar@example.com")'),
    (f'{COMPANY}[portal]\ncurrency = "EURO"\n',
     "4: 'currency' in [portal]: 'EURO' is not a known currency (expected an ISO 4217 code such as USD)"),
    (f'{COMPANY}[portal]\ncurrency = 978\n', "4: 'currency' in [portal]: 978 is not text (expected a quoted string)"),
    (f'{COMPANY}[portal]\nrecent_days = true\n',
     "4: 'recent_days' in [portal]: true is not a whole number of days (expected 0 to 36500, such as 120)"),
    (f'{COMPANY}[portal]\nrecent_days = -1\n',
     "4: 'recent_days' in [portal]: -1 is not a whole number of days (expected 0 to 36500, such as 120)"),
    (f'{COMPANY}[portal]\nrecent_days = 10000000\n',
     "4: 'recent_days' in [portal]: 10000000 is not a whole number of days (expected 0 to 36500, such as 120)"),
    (f'{COMPANY}[portal]\nrecent_days = "120"\n',
     "4: 'recent_days' in [portal]: '120' is not a whole number of days (expected 0 to 36500, such as 120)"),
    (f'{COMPANY}[portal]\nrecent_days = 1.5\n',
     "4: 'recent_days' in [portal]: 1.5 is not a whole number of days (expected 0 to 36500, such as 120)"),
    (f'{COMPANY}[ledger]\ndate_formats = "%Y-%m-%d"\n',
     "4: 'date_formats' in [ledger]: '%Y-%m-%d' is not a list of formats "
     '(expected a list such as ["%m/%d/%Y"])'),
    (f'{COMPANY}[ledger]\ndate_formats = []\n',
     '4: \'date_formats\' in [ledger]: an empty list has no formats (expected a list such as ["%m/%d/%Y"])'),
    (f'{COMPANY}[ledger]\ndate_formats = [5]\n',
     "4: 'date_formats' in [ledger]: 5 is not text (expected a strptime format such as \"%m/%d/%Y\")"),
    (f'{COMPANY}[ledger]\ncolumns = "Txn Date"\n',
     "4: 'columns' in [ledger]: 'Txn Date' is not a table (expected a table such as [ledger.columns])"),
    (f'{COMPANY}[ledger]\ntypes = ["invoice"]\n',
     "4: 'types' in [ledger]: a list is not a table (expected a table such as [ledger.types])"),
    (f'{COMPANY}[ledger.columns]\ndate = 1\n',
     "4: 'date' in [ledger.columns]: 1 is not a header (expected the export's header, such as \"Txn Date\")"),
    (f'{COMPANY}[ledger.columns]\ndate = "Day"\ndue_date = " day"\n',
     "5: 'due_date' in [ledger.columns]: ' day' is also the header of date (expected one header per column)"),
    (f'{COMPANY}[ledger.customer_columns]\nname = ""\n',
     "4: 'name' in [ledger.customer_columns]: '' is not a header (expected the export's header, such as \"Txn Date\")"),
    (f'{COMPANY}[ledger.types]\nPayment = 3\n',
     "4: 'Payment' in [ledger.types]: 3 is not text (expected one of invoice, credit, payment, refund, "
     "adjustment, writeoff)"),
    (f'{COMPANY}[ledger]\nround_amounts = "yes"\n',
     "4: 'round_amounts' in [ledger]: 'yes' is not true or false"),
    (f'{COMPANY}[import]\nlines = "yes"\n', "4: 'lines' in [import]: 'yes' is not true or false"),
    (f'{COMPANY}[import]\nnot_owed = "Void"\n',
     "4: 'not_owed' in [import]: 'Void' is not a list of text (expected a list such as [\"Draft\", \"Void\"])"),
    (f'{COMPANY}[import]\ndate_format = "%d/%m"\n',
     "4: 'date_format' in [import]: '%d/%m' has no year (expected a day %d, a month %m, %b or %B, and a year "
     "%Y or %y)"),
    (f'{COMPANY}[import.columns]\ncustomer = 5\n',
     "3: 'columns' in [import]: customer = 5 is not a header (expected our field = the export's header, such as "
     'customer = "Client")'),
    ('portal = "yes"\n' + COMPANY, "1: 'portal' must be a table"),
    (f'{COMPANY}[build]\nout = 5\n', "4: 'out' in [build]: 5 is not text (expected a quoted string)"),
])
def test_a_value_of_the_wrong_kind_is_reported_at_its_line(tmp_path, text, expected):
    assert one_problem(tmp_path, text) == f"content/settings.toml:{expected}"


def test_a_problem_is_located_at_its_key_not_at_look_alike_text_in_a_multi_line_string(tmp_path):
    text = (f'{COMPANY}remit_to = """Bank details:\n[portal]\nmin_payment = see below\n"""\n'
            '[portal] # options\nmin_payment = "0"\n')
    assert one_problem(tmp_path, text).startswith("content/settings.toml:8: 'min_payment' in [portal]: '0' is below")


def test_problems_in_every_section_are_reported_together(tmp_path):
    text = ('[company]\nname = 1\n[portal]\nmin_payment = "NaN"\nbase_url = "javascript:x"\n[ledger]\n'
            'date_formats = ["%Y"]\ndir = "/etc"\n[build]\nout = "../site"\n[smtp]\nport = "x"\n')
    assert [p.split(":")[1] for p in problems(tmp_path, text)] == ["2", "4", "5", "7", "8", "10", "12"]


def test_the_check_command_lists_settings_problems_without_a_traceback(tmp_path, capsys):
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "settings.toml").write_text(
        f'{COMPANY}[portal]\nmin_payment = "Infinity"\nchecko = 1\ncheckout_origin = "javascript:x"\n[build]\n'
        'out = "/srv/site"\n')
    assert main(["--root", str(tmp_path), "check"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert [line.split(":")[1] for line in err[:-1]] == ["4", "5", "6", "8"]
    assert err[-1] == "4 problems found; nothing was written."


# -- date formats ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "wrong"), [
    ("%Y-%m", "has no day"), ("%d/%m", "has no year"), ("%d %Y", "has no month"), ("%Y", "has no day or month"),
    ("%H:%M", "has no day, month or year"),
    ("%%d/%m/%Y", "has no day"), ("%d/%m/%Y %Q", "does not read back the date it writes"),
    ("%d %d/%m/%Y", "does not read back the date it writes"), ("%d/%m/%Y %", "does not read back the date it writes"),
])
def test_a_date_format_that_cannot_read_a_whole_date_is_reported(tmp_path, fmt, wrong):
    message = one_problem(tmp_path, f'{COMPANY}[ledger]\ndate_formats = ["%Y-%m-%d", "{fmt}"]\n')
    assert message.startswith(f"content/settings.toml:4: 'date_formats' in [ledger]: {fmt!r} {wrong} (expected ")


def test_every_bad_date_format_is_reported(tmp_path):
    assert len(problems(tmp_path, f'{COMPANY}[ledger]\ndate_formats = ["%Y", "%m/%d", "%Y-%m-%d"]\n')) == 2


def test_date_formats_with_a_day_month_and_year_are_kept_in_order(tmp_path):
    s = load(tmp_path, f'{COMPANY}[ledger]\ndate_formats = ["%m/%d/%Y", "%d %b %Y", "%d.%m.%y", "%B %d, %Y"]\n')
    assert s.date_formats == ("%m/%d/%Y", "%d %b %Y", "%d.%m.%y", "%B %d, %Y")


# -- folders --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ('[build]\nout = "/srv/site"\n', "'out' in [build]: '/srv/site' is an absolute path (expected a folder "
                                     "relative to the project folder, such as \"site\")"),
    ('[build]\nout = "../site"\n', "'out' in [build]: '../site' is not inside the project folder (expected a folder "
                                   "relative to the project folder, such as \"site\")"),
    ('[build]\nstate_dir = "."\n', "'state_dir' in [build]: '.' is not inside the project folder (expected a folder "
                                   "relative to the project folder, such as \".portal\")"),
    ('[build]\nstaff_dir = ""\n', "'staff_dir' in [build]: '' is not a folder name (expected a folder "
                                  "relative to the project folder, such as \"staff\")"),
    ('[ledger]\ndir = "../../ledger"\n', "'dir' in [ledger]: '../../ledger' is not inside the project folder "
                                         "(expected a folder relative to content/, such as \"ledger\")"),
    ('[ledger]\ndir = "/home/ar/exports"\n', "'dir' in [ledger]: '/home/ar/exports' is an absolute path "
                                             "(expected a folder relative to content/, such as \"ledger\")"),
    ('[build]\nstate_dir = "site/.portal"\n', "'state_dir' in [build]: 'site/.portal' is inside out 'site' "
                                              "(expected a folder of its own)"),
    ('[build]\nstaff_dir = "public"\nout = "public"\n', "'staff_dir' in [build]: 'public' is the same folder as out "
                                                        "'public' (expected a folder of its own)"),
    ('[build]\nstaff_dir = "content/ledger/staff"\n', "'staff_dir' in [build]: 'content/ledger/staff' is inside the "
                                                      "ledger 'content/ledger' (expected a folder of its own)"),
    ('[ledger]\ndir = "../site/ledger"\n', "'dir' in [ledger]: 'site/ledger' is inside out 'site' "
                                           "(expected a folder of its own)"),
    ('[build]\nout = "content"\n', "'out' in [build]: 'content' is the same folder as content/ 'content' "
                                   "(expected a folder of its own)"),
    ('[build]\nout = "site_templates"\n', "'out' in [build]: 'site_templates' is the same folder as site_templates/ "
                                          "'site_templates' (expected a folder of its own)"),
    ('[build]\nstate_dir = "content/.."\n', "'state_dir' in [build]: 'content/..' is not inside the project folder "
                                            "(expected a folder relative to the project folder, such as \".portal\")"),
])
def test_a_folder_outside_the_project_or_overlapping_another_is_reported(tmp_path, text, expected):
    assert one_problem(tmp_path, COMPANY + text) == f"content/settings.toml:4: {expected}"


def test_overlapping_folders_are_reported_beside_a_folder_that_is_wrong(tmp_path):
    assert [p.split(": ", 1)[0] for p in problems(
        tmp_path, f'{COMPANY}[build]\nout = "/srv/site"\nstate_dir = "staff/state"\n')] == [
        "content/settings.toml:4", "content/settings.toml:5"]


def test_folders_inside_the_project_are_resolved(tmp_path):
    s = load(tmp_path, f'{COMPANY}[ledger]\ndir = "../exports"\n[build]\nout = "public/site"\n'
                       'staff_dir = "private/staff"\nstate_dir = "private/state"\n')
    root = tmp_path.resolve()
    assert (s.ledger_dir, s.out, s.staff_dir, s.state_dir) == (
        root / "exports", root / "public" / "site", root / "private" / "staff", root / "private" / "state")


# -- timezone and trusted_proxies ------------------------------------------------------------------

def test_timezone_is_an_iana_zone_name(tmp_path):
    assert load(tmp_path, f'{COMPANY}[portal]\ntimezone = "America/New_York"\n').timezone == "America/New_York"
    assert load(tmp_path, f'{COMPANY}[portal]\ntimezone = ""\n').timezone == ""


@pytest.mark.parametrize("value", ['"Mars/Olympus_Mons"', '"America"', '"../etc/passwd"', '"/etc/localtime"',
                                   '"America/New_York "', '"EST5EDT; x"', "5"])
def test_an_unknown_timezone_is_reported(tmp_path, value):
    message = one_problem(tmp_path, f'{COMPANY}[portal]\ntimezone = {value}\n')
    assert message.startswith("content/settings.toml:4: 'timezone' in [portal]: ")
    assert message.endswith(" (expected a quoted string)" if value == "5" else
                            ' is not a time zone (expected an IANA name such as "America/New_York", '
                            "or empty for this machine's)")


def test_trusted_proxies_is_a_whole_number_from_the_file_or_the_environment(tmp_path, monkeypatch):
    assert load(tmp_path, f'{COMPANY}[portal]\ntrusted_proxies = 2\n').trusted_proxies == 2
    monkeypatch.setenv("PORTAL_TRUSTED_PROXIES", "1")
    assert load(tmp_path, f'{COMPANY}[portal]\ntrusted_proxies = 2\n').trusted_proxies == 1


@pytest.mark.parametrize("value", ["-1", "true", '"1"', "1.0"])
def test_trusted_proxies_that_is_not_a_count_is_reported(tmp_path, value):
    assert one_problem(tmp_path, f'{COMPANY}[portal]\ntrusted_proxies = {value}\n').endswith(
        "is not a whole number (expected 0 or more: how many reverse proxies stand in front of the payment service)")


@pytest.mark.parametrize("value", ["-1", "one", "1.5", " "])
def test_trusted_proxies_from_the_environment_is_checked(tmp_path, monkeypatch, value):
    monkeypatch.setenv("PORTAL_TRUSTED_PROXIES", value)
    assert problems(tmp_path, COMPANY) == [
        f"PORTAL_TRUSTED_PROXIES: {value!r} is not a whole number "
        "(expected 0 or more: how many reverse proxies stand in front of the payment service)"]


def test_base_url_from_the_environment_overrides_the_file_and_is_checked(tmp_path, monkeypatch):
    from portal.core.records import InputError
    from portal.ledger import settings as settings_module
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "settings.toml").write_text('[company]\nname = "A"\n[portal]\nbase_url = "https://a.example"\n')
    monkeypatch.setenv("PORTAL_BASE_URL", "http://localhost:9000")
    assert settings_module.load(tmp_path).base_url == "http://localhost:9000"
    monkeypatch.setenv("PORTAL_BASE_URL", "javascript:alert(1)")
    with pytest.raises(InputError) as e:
        settings_module.load(tmp_path)
    assert "PORTAL_BASE_URL" in str(e.value)
