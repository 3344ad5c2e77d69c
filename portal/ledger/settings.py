"""The settings file (content/settings.toml): read it, check every value, report each problem at its line."""
from __future__ import annotations

import codecs
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..core.methods import METHODS, OPTIONAL
from ..core.money import EXPONENT, is_currency
from ..core.records import ENTRY_TYPES, InputError, Problem

LEDGER_COLUMNS = ("date", "customer_id", "type", "ref", "amount", "currency", "due_date", "applies_to", "memo")
CUSTOMER_COLUMNS = (
    "customer_id", "name", "email", "currency", "terms_days", "contact", "phone", "address",
    "link_version", "paused",
)
_SECTIONS = {
    "company": {"name", "email", "phone", "address", "website", "remit_to", "logo", "brand_color"},
    "portal": {"base_url", "currency", "pay_url", "min_payment", "recent_days", "checkout_origin", "timezone",
               "trusted_proxies"},
    "ledger": {"dir", "date_formats", "columns", "customer_columns", "types", "round_amounts"},
    "build": {"out", "staff_dir", "state_dir"},
    "smtp": {"host", "port", "starttls", "user", "from"},
    "reminders": {"attach_pdf"},  # each reminder email carries the statement's PDF
    # the payment methods that need switching on (and activating in Stripe's Dashboard): sepa_debit, bacs_debit
    "payments": set(OPTIONAL),
    # how content/exports/ is read (portal.imports): a preset and overrides of it, or a profile of one's own
    "import": {"preset", "date_format", "terms_days", "not_owed", "paid", "partial", "lines", "columns", "skip",
               "keep", "customer_sections", "negative", "negative_names_invoice", "files"},
}
IMPORT_FILE_KEYS = _SECTIONS["import"] - {"files"}  # what [import.files."<pattern>"] may say
ORIGIN_ENV = "PORTAL_CHECKOUT_ORIGIN"
BASE_URL_ENV = "PORTAL_BASE_URL"  # where this copy is served, when it is not where the settings say (a demo port)
PROXIES_ENV = "PORTAL_TRUSTED_PROXIES"
MAX_PAYMENT_MINOR = 99_999_999  # Stripe's largest charge: eight digits of minor units
MAX_RECENT_DAYS = 36_500  # a century; more would reach past year 1 and crash the date arithmetic

Table = dict[str, Any]  # a TOML table as tomllib reads it: its values are checked one by one below
T = TypeVar("T")
D = TypeVar("D")


@dataclass(frozen=True)
class Smtp:
    """Where `portal remind --send` hands its mail; the password comes from PORTAL_SMTP_PASSWORD."""

    host: str = "localhost"
    port: int = 587
    starttls: bool = True
    user: str = ""
    sender: str = ""  # the From address; the company email when empty


@dataclass(frozen=True)
class Settings:
    """Everything the build and the service read from the settings file, resolved to paths."""

    root: Path
    company: dict[str, str] = field(default_factory=dict)
    base_url: str = "http://localhost:8000"
    currency: str = "USD"
    pay_url: str = "/pay"
    checkout_origin: str = "https://checkout.stripe.com"  # where the pay form's redirect goes (CSP form-action)
    min_payment: Decimal = Decimal("1.00")
    recent_days: int = 120
    timezone: str = ""  # an IANA name such as "America/New_York"; empty: the machine's local time zone
    trusted_proxies: int = 0  # reverse proxies in front of the payment service whose X-Forwarded-* count
    ledger_dir: Path = Path("content/ledger")
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    columns: dict[str, str] = field(default_factory=dict)  # export header -> our column, lower-cased
    customer_columns: dict[str, str] = field(default_factory=dict)
    type_aliases: dict[str, str] = field(default_factory=dict)
    round_amounts: bool = False  # amounts with more decimals than their currency: rounded (warned), not refused
    # [import]: the keys given, checked for their kind (portal.imports checks the preset's and fields' names)
    import_profile: dict[str, Any] = field(default_factory=dict)
    out: Path = Path("site")
    staff_dir: Path = Path("staff")
    state_dir: Path = Path(".portal")
    content_dir: Path = Path("content")
    templates_dir: Path = Path("site_templates")
    source: Path | None = None
    raw: str = ""  # the file's text, part of every page's inputs
    smtp: Smtp | None = None  # None: no [smtp] section, so reminders cannot be sent
    attach_pdf: bool = False  # [reminders] attach_pdf: each reminder carries the statement as a PDF
    # [payments]: the optional payment methods switched on (core.methods.OPTIONAL: sepa_debit, bacs_debit)
    payment_methods: frozenset[str] = frozenset()


def load(root: Path | str = ".", path: Path | str | None = None) -> Settings:
    """Read and check the settings file; all problems are raised together as InputError."""
    root = Path(root).resolve()
    path = Path(path) if path else root / "content" / "settings.toml"
    text, data = _read(path, _rel(path, root))
    report = _Report(_rel(path, root), text)
    tables = _tables(data, report)
    company = _company(tables.get("company", {}), report)
    portal = _portal(tables.get("portal", {}), report, os.environ)
    ledger = _ledger(tables.get("ledger", {}), report)
    folders = _folders(root, tables.get("ledger", {}), tables.get("build", {}), report)
    smtp = _smtp(tables.get("smtp"), report)
    methods = _payments(tables.get("payments", {}), report)
    import_profile = _import(tables.get("import", {}), report)
    attach_pdf = report.value(tables.get("reminders", {}), "reminders", "attach_pdf", False, _flag)
    if company.get("logo"):  # a file of the project's, served from the site itself
        company["logo"] = report.check("company", "logo", company["logo"], _logo(folders["content_dir"]), "")
    if report.problems:
        raise InputError(report.problems)
    return Settings(root=root, company=company, **portal, **ledger, **folders, source=path, raw=text, smtp=smtp,
                    import_profile=import_profile, attach_pdf=attach_pdf, payment_methods=methods)


def problem_at(settings: Settings, section: str, key: str | None, message: str,
               at: tuple[str, ...] | None = None) -> Problem:
    """A problem with a setting, at its line of the settings file (for checks made outside this module)."""
    report = _Report(_rel(settings.source or settings.root / "content" / "settings.toml", settings.root), settings.raw)
    report.add(section, key, message, at)
    return report.problems[0]


def _payments(table: Table, report: _Report) -> frozenset[str]:
    """[payments]: each optional payment method, true or false (default false)."""
    def flag(method: str) -> Callable[[object], bool]:
        def check(value: object) -> bool:
            if not isinstance(value, bool):
                raise _Bad(f"{_shown(value)} is not true or false (true offers {METHODS[method].name} in "
                           f"{METHODS[method].currency} once it is activated in Stripe's Dashboard)")
            return value
        return check
    return frozenset(m for m in OPTIONAL if report.value(table, "payments", m, False, flag(m)))


def _import(table: Table, report: _Report) -> dict[str, Any]:
    """[import]: each key given, of the right kind; [import.files."<pattern>"] tables, each for the
    exports whose file name matches its pattern, with the same keys."""
    found = _import_keys(table, report, ("import",))
    files = table.get("files")
    if files is None:
        return found
    if not isinstance(files, dict) or not all(isinstance(t, dict) for t in files.values()):
        report.add("import", "files", f"'files' in [import]: {_shown(files)} is not a set of tables (expected "
                                      '[import.files."xero-*.csv"] with the keys of [import] for those files)')
        return found
    out = {}
    for pattern, t in files.items():
        where = ("import", "files", pattern)
        for key in sorted(t.keys() - IMPORT_FILE_KEYS):
            report.add("import", key, f"unknown key '{key}' in [import.files.\"{pattern}\"] (expected one of "
                                      f"{', '.join(sorted(IMPORT_FILE_KEYS))})", at=where)
        out[pattern] = _import_keys(t, report, where)
    return {**found, "files": out}


def _import_keys(table: Table, report: _Report, where: tuple[str, ...]) -> dict[str, Any]:
    """One import table's keys, each of the right kind (located at `where` in the settings)."""
    name = where[0] + "".join(f'.files."{p}"' for p in where[2:])
    rules: dict[str, Callable[[object], Any]] = {
        "preset": _text, "date_format": _date_format, "lines": _flag, "columns": _header_table,
        "customer_sections": _flag, "negative_names_invoice": _flag, "negative": _negative,
        "skip": _values_table, "keep": _values_table,
        "terms_days": lambda v: _whole(v, 0, 3650, "days", "0 to 3650, such as 30"),
        **dict.fromkeys(("not_owed", "paid", "partial"), _text_list)}
    found = {key: report.value(table, name, key, None, rule, at=where) for key, rule in rules.items() if key in table}
    return {k: v for k, v in found.items() if v is not None}


def _negative(value: object) -> str:
    if value not in ("credit", "payment"):
        raise _Bad(f"{_shown(value)} is not credit or payment (expected what a negative amount is: \"payment\")")
    return str(value)


def _values_table(value: object) -> dict[str, tuple[str, ...]]:
    """{the export's header: [its values]}: rows skipped (`skip`) or the only ones kept (`keep`)."""
    if not isinstance(value, dict):
        raise _Bad(f"{_shown(value)} is not a table (expected the export's header = a list of its values, "
                   'such as State = ["deleted"])')
    return {header: _text_list(values) for header, values in value.items()}


LOGO_TYPES = (".png", ".svg", ".jpg", ".jpeg", ".webp")
LOGO_MAX_BYTES = 512 * 1024


def _logo(content: Path) -> Callable[[object], str]:
    """[company] logo: an image file inside content/, small enough for every page to load."""
    def check(value: object) -> str:
        text = _text(value)
        path = Path(os.path.normpath(content / text))
        if not path.is_relative_to(content) or path.suffix.lower() not in LOGO_TYPES:
            raise _Bad(f"{text!r} is not an image inside content/ (expected a {', '.join(LOGO_TYPES)} file "
                       "such as \"logo.png\", relative to content/)")
        if not path.is_file():
            raise _Bad(f"{text!r} is not a file in content/ (expected the logo's file, relative to content/)")
        if path.stat().st_size > LOGO_MAX_BYTES:
            raise _Bad(f"{text!r} is {path.stat().st_size:,} bytes (expected at most {LOGO_MAX_BYTES:,}: every "
                       "statement loads it)")
        return str(path.relative_to(content))
    return check


def _brand_color(value: object) -> str:
    """A #rrggbb colour white text can sit on, and links can be read in on white: 4.5:1 or more (WCAG AA)."""
    text = _text(value).strip()
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", text):
        raise _Bad(f"{text!r} is not a colour (expected #rrggbb, such as \"#0b4f8a\")")
    ratio = 1.05 / (_luminance(text) + 0.05)
    if ratio < 4.5:
        raise _Bad(f"{text!r} is too light: white text on it has a contrast of {ratio:.1f}:1 (expected 4.5:1 or "
                   "more; choose a darker shade)")
    return text.lower()


def _luminance(hex_colour: str) -> float:
    """WCAG's relative luminance of an sRGB colour."""
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _text_list(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad(f"{_shown(value)} is not a list of text (expected a list such as [\"Draft\", \"Void\"])")
    return tuple(value)


def _header_table(value: object) -> dict[str, str]:
    expected = 'expected our field = the export\'s header, such as customer = "Client"'
    if not isinstance(value, dict):
        raise _Bad(f"{_shown(value)} is not a table ({expected})")
    bad = next((k for k, v in value.items() if not (isinstance(v, str) and v.strip())), None)
    if bad is not None:
        raise _Bad(f"{bad} = {_shown(value[bad])} is not a header ({expected})")
    return {k: v.strip() for k, v in value.items()}


def _read(path: Path, rel: str) -> tuple[str, Table]:
    """The file's text and its TOML, floats read as Decimal from their own text (never through a float)."""
    if not path.is_file():
        raise InputError([Problem(rel, 0, "settings file not found (expected TOML, see README)")])
    data = path.read_bytes().removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError([Problem(rel, data[:e.start].count(b"\n") + 1,
                                  "not UTF-8 text (save the file as UTF-8)")]) from e
    try:
        return text, tomllib.loads(text, parse_float=lambda s: Decimal(s.replace("_", "")))
    except tomllib.TOMLDecodeError as e:  # Python 3.11 puts the position only in the message
        found = re.search(r"\(at line (\d+), column \d+\)", str(e))
        line = int(found[1]) if found else 0
        message = re.sub(r" \(at line \d+, column (\d+)\)", r" (column \1)", str(e))
        raise InputError([Problem(rel, line, f"not valid TOML: {message}")]) from e


class _Bad(ValueError):
    """A value that fails its check; the message says what is wrong (what was expected)."""


class _Report:
    """Problems found so far, each located at the line of its section and key."""

    def __init__(self, rel: str, text: str) -> None:
        self.rel, self.lines = rel, _lines(text)
        self.problems: list[Problem] = []

    def add(self, section: str, key: str | None, message: str, at: tuple[str, ...] | None = None) -> None:
        """A problem at the line of [section] key (or of the table path `at`, when a name in it has dots)."""
        where = at if at is not None else tuple(section.split("."))
        path = (*where, key) if key is not None else where
        while path and path not in self.lines:
            path = path[:-1]
        self.problems.append(Problem(self.rel, self.lines.get(path, 0), message))

    def check(self, section: str, key: str, value: object, rule: Callable[[object], T], default: D,
              at: tuple[str, ...] | None = None) -> T | D:
        """rule(value), or the default with the problem noted."""
        try:
            return rule(value)
        except _Bad as e:
            self.add(section, key, f"'{key}' in [{section}]: {e}", at)
            return default

    def value(self, table: Table, section: str, key: str, default: D, rule: Callable[[object], T],
              at: tuple[str, ...] | None = None) -> T | D:
        """table[key] checked by rule, or the default when it is absent or wrong."""
        return self.check(section, key, table[key], rule, default, at) if key in table else default

    def env(self, environ: Mapping[str, str], name: str, default: D, rule: Callable[[str], T]) -> T | D:
        """An environment override checked like the setting it replaces; the default when unset."""
        if not environ.get(name):
            return default
        try:
            return rule(environ[name])
        except _Bad as e:
            self.problems.append(Problem(name, 0, str(e)))
            return default


def _tables(data: Table, report: _Report) -> dict[str, Table]:
    """The known sections that are tables; unknown sections and keys reported."""
    tables: dict[str, Table] = {}
    for section, table in data.items():
        known = _SECTIONS.get(section)
        if known is None:
            report.add(section, None, f"unknown section '{section}' (expected one of {', '.join(sorted(_SECTIONS))})")
        elif not isinstance(table, dict):
            report.add(section, None, f"'{section}' must be a table")
        else:
            tables[section] = table
            for key in table.keys() - known:
                report.add(section, key,
                           f"unknown key '{key}' in [{section}] (expected one of {', '.join(sorted(known))})")
    return tables


def _company(table: Table, report: _Report) -> dict[str, str]:
    """[company]: text printed on every page; the name is required."""
    rules = {"email": _email, "brand_color": _brand_color}
    company = {key: report.value(table, "company", key, "", rules.get(key, _text))
               for key in sorted(_SECTIONS["company"])}
    if isinstance(table.get("name", ""), str) and not company["name"].strip():  # else reported as not text
        report.add("company", "name", "'name' missing in [company] (the company name printed on every statement)")
    return company


def _portal(table: Table, report: _Report, environ: Mapping[str, str]) -> dict[str, Any]:
    """[portal]: addresses, currency, payments, and the two environment overrides."""
    d = Settings
    currency = report.value(table, "portal", "currency", d.currency, _currency)
    origin = report.value(table, "portal", "checkout_origin", d.checkout_origin, _origin)
    proxies = report.value(table, "portal", "trusted_proxies", d.trusted_proxies, _count)
    base_url = report.value(table, "portal", "base_url", d.base_url, _base_url)
    return {
        "base_url": report.env(environ, BASE_URL_ENV, base_url, _base_url),
        "currency": currency,
        "pay_url": report.value(table, "portal", "pay_url", d.pay_url, _pay_url),
        "checkout_origin": report.env(environ, ORIGIN_ENV, origin, _origin),
        "min_payment": report.value(table, "portal", "min_payment", d.min_payment,
                                    lambda v: _min_payment(v, currency)),
        "recent_days": report.value(table, "portal", "recent_days", d.recent_days, _days),
        "timezone": report.value(table, "portal", "timezone", d.timezone, _timezone),
        "trusted_proxies": report.env(environ, PROXIES_ENV, proxies, _count_text),
    }


def _ledger(table: Table, report: _Report) -> dict[str, Any]:
    """[ledger]: how to read the exports (the folder is among _folders)."""
    formats = report.value(table, "ledger", "date_formats", None, _format_list)
    if formats is not None:
        formats = [report.check("ledger", "date_formats", f, _date_format, None) for f in formats]
    tables = {key: report.value(table, "ledger", key, {}, _table(f"[ledger.{key}]"))
              for key in ("columns", "customer_columns", "types")}
    return {
        "date_formats": tuple(formats) if formats and None not in formats else Settings.date_formats,
        "columns": _column_map(tables["columns"], LEDGER_COLUMNS, "columns", report),
        "customer_columns": _column_map(tables["customer_columns"], CUSTOMER_COLUMNS, "customer_columns", report),
        "type_aliases": _type_aliases(tables["types"], report),
        "round_amounts": report.value(table, "ledger", "round_amounts", False, _flag),
    }


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"{_shown(value)} is not true or false")
    return value


def _column_map(table: Table, ours: tuple[str, ...], name: str, report: _Report) -> dict[str, str]:
    """[ledger.columns] maps our column name to the export's header; invert it for reading."""
    section = f"ledger.{name}"
    out: dict[str, str] = {}
    for key, header in table.items():
        if key not in ours:
            report.add(section, key, f"unknown column '{key}' in [{section}] (expected one of {', '.join(ours)})")
        elif (h := report.check(section, key, header, _header, None)) in out:
            report.add(section, key, f"'{key}' in [{section}]: {header!r} is also the header of {out[h]} "
                                     "(expected one header per column)")
        elif h is not None:
            out[h] = key
    return out


def _type_aliases(table: Table, report: _Report) -> dict[str, str]:
    """[ledger.types]: the export's type names mapped to ours, lower-cased."""
    out: dict[str, str] = {}
    expected = f"expected one of {', '.join(ENTRY_TYPES)}"
    for alias, target in table.items():
        if not isinstance(target, str):
            report.add("ledger.types", alias, f"'{alias}' in [ledger.types]: {_shown(target)} is not text ({expected})")
            continue
        name, target = alias.strip().lower(), target.strip().lower()
        if target not in ENTRY_TYPES:
            report.add("ledger.types", alias, f"[ledger.types] maps {name!r} to {target!r} ({expected})")
        out[name] = target
    return out


def _folders(root: Path, ledger: Table, build: Table, report: _Report) -> dict[str, Any]:  # Settings' fields
    """The ledger folder and the build's output folders: inside the project, and apart from each other."""
    content = root / "content"
    where = {  # field: (section, key, relative to, default)
        "ledger_dir": ("ledger", "dir", content, "ledger"), "out": ("build", "out", root, "site"),
        "staff_dir": ("build", "staff_dir", root, "staff"), "state_dir": ("build", "state_dir", root, ".portal"),
    }
    tables = {"ledger": ledger, "build": build}
    folders = {"content_dir": content, "templates_dir": root / "site_templates"}
    wrong: set[str] = set()
    for name, (section, key, base, default) in where.items():
        before = len(report.problems)
        folders[name] = report.value(tables[section], section, key, base / default, _inside(root, base, default))
        if len(report.problems) > before:
            wrong.add(name)
    keyed = {name: (section, key) for name, (section, key, _, _) in where.items() if key in tables[section]}
    _apart(root, {name: folder for name, folder in folders.items() if name not in wrong}, keyed, report)
    return folders


def _apart(root: Path, folders: dict[str, Path], keyed: dict[str, tuple[str, str]], report: _Report) -> None:
    """Each output folder apart from the other outputs, the ledger and the templates, and not holding content/."""
    names = {"ledger_dir": "the ledger", "content_dir": "content/", "templates_dir": "site_templates/"}
    outputs = ["out", "staff_dir", "state_dir"]
    for i, output in enumerate(outputs):
        for other in [*outputs[i + 1:], "content_dir", "templates_dir", "ledger_dir"]:
            if output not in folders or other not in folders:  # a folder already reported
                continue
            relation = _relation(folders[output], folders[other])
            if relation is None or (other == "content_dir" and relation == "is inside"):
                continue
            a, b = (other, output) if other in keyed else (output, other)  # said at the line that set it
            relation = _relation(folders[a], folders[b])
            section, key = keyed.get(a, ("build", a))
            report.add(section, key, f"'{key}' in [{section}]: {_show(folders[a], root)!r} {relation} "
                                     f"{names.get(b, b)} {_show(folders[b], root)!r} (expected a folder of its own)")
            break


def _relation(a: Path, b: Path) -> str | None:
    """How folder a lies to folder b, or None when apart."""
    if a == b:
        return "is the same folder as"
    return "is inside" if a.is_relative_to(b) else "holds" if b.is_relative_to(a) else None


def _smtp(table: Table | None, report: _Report) -> Smtp | None:
    """The [smtp] section, each bad value reported at its own line."""
    if table is None:
        return None

    def bad(key: str, msg: str) -> None:
        report.add("smtp", key, f"'{key}' in [smtp] {msg}")

    before = len(report.problems)
    d = Smtp()
    host, port, starttls = table.get("host", d.host), table.get("port", d.port), table.get("starttls", d.starttls)
    user, sender = table.get("user", ""), table.get("from", "")
    if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host.strip()):
        bad("host", "must be a host name such as \"smtp.example.com\"")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        bad("port", "must be a port number such as 587")
    if not isinstance(starttls, bool):
        bad("starttls", "must be true or false")
    if not isinstance(user, str):
        bad("user", "must be text (the login name; the password comes from PORTAL_SMTP_PASSWORD)")
    if not isinstance(sender, str) or (sender and not _is_email(sender)):
        bad("from", "must be an email address such as \"ar@example.com\"")
    if len(report.problems) > before:
        return None
    return Smtp(host.strip(), port, starttls, user, sender)


# -- checks: pure functions of one value, returning it as the Settings field or raising _Bad ------

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_PORT = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{{1,5}}))?"
_URL = re.compile(rf"(?P<scheme>https?)://(?P<netloc>{_HOST_PORT})(?P<rest>[/?#].*)?", re.IGNORECASE | re.DOTALL)
_ORIGIN = re.compile(rf"https?://{_HOST_PORT}/?", re.IGNORECASE)
_NOT_IN_URL = re.compile(r"[\s\"'<>\\`\x00-\x1f\x7f]")
_PLAIN_AMOUNT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_DIRECTIVES = {"day": {"%d"}, "month": {"%m", "%b", "%B"}, "year": {"%Y", "%y"}}
_SAMPLE_DAYS = (date(2026, 11, 25), date(1999, 1, 5))


def _shown(value: object) -> str:
    """A TOML value as the message names it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return "a table" if isinstance(value, dict) else "a list"
    return repr(value) if isinstance(value, str) else str(value)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{_shown(value)} is not text (expected a quoted string)")
    return value


def _is_email(text: str) -> bool:
    return "@" in text and not any(c.isspace() for c in text)


def _email(value: object) -> str:
    text = _text(value)
    if text and not _is_email(text):
        raise _Bad(f"{text!r} is not an email address (expected an address such as \"ar@example.com\")")
    return text


def _currency(value: object) -> str:
    text = _text(value)
    if not is_currency(text.upper()):
        raise _Bad(f"{text!r} is not a known currency (expected an ISO 4217 code such as USD)")
    return text.upper()


def _whole(value: object, low: int, high: int | None, what: str, expected: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        raise _Bad(f"{_shown(value)} is not {what} (expected {expected})")
    return value


def _days(value: object) -> int:
    return _whole(value, 0, MAX_RECENT_DAYS, "a whole number of days", f"0 to {MAX_RECENT_DAYS}, such as 120")


def _count(value: object) -> int:
    return _whole(value, 0, None, "a whole number",
                  "0 or more: how many reverse proxies stand in front of the payment service")


def _count_text(text: str) -> int:
    """The environment's form of _count: ASCII digits."""
    return _count(int(text) if text.isascii() and text.isdigit() else text)


def _min_payment(value: object, currency: str) -> Decimal:
    """A plain decimal amount of at least one minor unit, with no more decimals than the currency has."""
    if isinstance(value, str) and _PLAIN_AMOUNT.fullmatch(value.strip()):
        amount = Decimal(value.strip())
    elif isinstance(value, (int, Decimal)) and not isinstance(value, bool) and Decimal(value).is_finite():
        amount = Decimal(value)
    else:
        raise _Bad(f"{_shown(value)} is not a plain decimal amount (expected a quoted amount such as \"1.00\")")
    exponent = EXPONENT[currency]
    unit, most = Decimal(1).scaleb(-exponent), Decimal(MAX_PAYMENT_MINOR).scaleb(-exponent)
    if amount < unit:
        raise _Bad(f"{_shown(value)} is below one minor unit of {currency} (expected at least {unit})")
    if amount > most:
        raise _Bad(f"{_shown(value)} is more than one payment can be (expected at most {most})")
    if amount != amount.quantize(unit):
        decimals = f"at most {exponent} decimals" if exponent else "a whole number"
        raise _Bad(f"{_shown(value)} has more decimals than {currency} has (expected {decimals})")
    return amount.quantize(unit)


def _http_url(url: str, expected: str) -> re.Match[str]:
    """The parts of an absolute http(s) URL that names a host, or _Bad."""
    if _NOT_IN_URL.search(url):
        raise _Bad(f"{url!r} holds a space, quote or other character no URL has (expected {expected})")
    found = _URL.fullmatch(url)
    if not found:
        raise _Bad(f"{url!r} is not an http(s) address naming a host (expected {expected})")
    if found["port"] and not 0 < int(found["port"]) < 65536:
        raise _Bad(f"{url!r} has no valid port (expected {expected})")
    if "#" in url:
        raise _Bad(f"{url!r} has a fragment (expected {expected})")
    return found


def _base_url(value: object) -> str:
    expected = 'an absolute URL such as "https://statements.example.com"'
    text = _text(value)
    if "?" in (_http_url(text, expected)["rest"] or ""):
        raise _Bad(f"{text!r} has a query (expected {expected})")
    return text.rstrip("/")


def _pay_url(value: object) -> str:
    expected = 'a path such as "/pay", or a URL such as "https://pay.example.com/pay"'
    text = _text(value)
    if not text.startswith("/"):
        _http_url(text, expected)
    elif text.startswith("//") or _NOT_IN_URL.search(text) or "#" in text:
        raise _Bad(f"{text!r} is not a path on this host (expected {expected})")
    return text


def _origin(value: object) -> str:
    text = _text(value)
    found = _ORIGIN.fullmatch(text)
    if not found or (found["port"] and not 0 < int(found["port"]) < 65536):
        raise _Bad(f"{text!r} is not an origin "
                   '(expected scheme://host[:port] such as "https://checkout.stripe.com")')
    return text.rstrip("/")


def _timezone(value: object) -> str:
    text = _text(value)
    if text:
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError, OSError) as e:
            raise _Bad(f"{text!r} is not a time zone (expected an IANA name such as \"America/New_York\", "
                       "or empty for this machine's)") from e
    return text


def _format_list(value: object) -> list[object]:
    expected = 'expected a list such as ["%m/%d/%Y"]'
    if not isinstance(value, list):
        raise _Bad(f"{_shown(value)} is not a list of formats ({expected})")
    if not value:
        raise _Bad(f"an empty list has no formats ({expected})")
    return value


def _date_format(value: object) -> str:
    """A strptime format with a day, a month and a year that reads back the dates it writes."""
    if not isinstance(value, str):
        raise _Bad(f"{_shown(value)} is not text (expected a strptime format such as \"%m/%d/%Y\")")
    used = set(re.findall("%.", value))
    missing = [part for part, directives in _DIRECTIVES.items() if not used & directives]
    if missing:
        names = " or ".join(missing) if len(missing) < 3 else "day, month or year"
        raise _Bad(f"{value!r} has no {names} (expected a day %d, a month %m, %b or %B, and a year %Y or %y)")
    for day in _SAMPLE_DAYS:
        try:
            back = datetime.strptime(day.strftime(value), value).date()
        except (ValueError, re.error):
            back = None
        if back != day:
            raise _Bad(f"{value!r} does not read back the date it writes (expected strptime directives and "
                       "plain text only, such as \"%d.%m.%Y\")")
    return value


def _table(expected: str) -> Callable[[object], Table]:
    def check(value: object) -> Table:
        if not isinstance(value, dict):
            raise _Bad(f"{_shown(value)} is not a table (expected a table such as {expected})")
        return value
    return check


def _header(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"{_shown(value)} is not a header (expected the export's header, such as \"Txn Date\")")
    return value.strip().lower()


def _inside(root: Path, base: Path, example: str) -> Callable[[object], Path]:
    """A check for a relative folder: resolved against base, it must lie inside the project."""
    relative_to = "content/" if base != root else "the project folder"
    expected = f'expected a folder relative to {relative_to}, such as "{example}"'

    def check(value: object) -> Path:
        text = _text(value)
        if not text.strip() or re.search(r"[\x00-\x1f\x7f]", text):
            raise _Bad(f"{text!r} is not a folder name ({expected})")
        if Path(text).is_absolute():
            raise _Bad(f"{text!r} is an absolute path ({expected})")
        folder = Path(os.path.normpath(base / text))
        if folder == root or not folder.is_relative_to(root):
            raise _Bad(f"{text!r} is not inside the project folder ({expected})")
        return folder
    return check


# -- where each key is: tomllib keeps no positions --------------------------------------------------

_HEADER = re.compile(r"\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_PART = r"(?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+)"
_KEY = re.compile(rf"\s*({_PART}(?:\s*\.\s*{_PART})*)\s*=(.*)")


def _lines(text: str) -> dict[tuple[str, ...], int]:
    """The line of every table header and key, by its dotted path; the first line wins."""
    lines: dict[tuple[str, ...], int] = {}
    section: tuple[str, ...] = ()
    open_string: str | None = None  # inside a multi-line string: its delimiter
    for n, line in enumerate(text.splitlines(), 1):
        if open_string:
            if line.count(open_string) % 2:
                open_string = None
        elif header := _HEADER.match(line):
            section = _parts(header[1])
            _mark(lines, section, n)
        elif key := _KEY.match(line):
            _mark(lines, (*section, *_parts(key[1])), n)
            open_string = next((q for q in ('"""', "'''") if key[2].count(q) % 2), None)
    return lines


def _mark(lines: dict[tuple[str, ...], int], path: tuple[str, ...], n: int) -> None:
    for i in range(1, len(path) + 1):
        lines.setdefault(path[:i], n)


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(a or b or c for a, b, c in re.findall(r"\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_-]+)", dotted))


def _show(folder: Path, root: Path) -> str:
    return str(folder.relative_to(root))


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)
