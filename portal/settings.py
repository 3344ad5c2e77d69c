"""The settings file (content/settings.toml): company details, portal options, ledger format."""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .model import ENTRY_TYPES, InputError, Problem
from .money import is_currency

LEDGER_COLUMNS = ("date", "customer_id", "type", "ref", "amount", "currency", "due_date", "applies_to", "memo")
CUSTOMER_COLUMNS = (
    "customer_id", "name", "email", "currency", "terms_days", "contact", "phone", "address",
    "link_version", "paused",
)
_SECTIONS = {
    "company": {"name", "email", "phone", "address", "website", "remit_to"},
    "portal": {"base_url", "currency", "pay_url", "min_payment", "recent_days", "checkout_origin"},
    "ledger": {"dir", "date_formats", "columns", "customer_columns", "types"},
    "build": {"out", "staff_dir", "state_dir"},
    "smtp": {"host", "port", "starttls", "user", "from"},
}


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
    company: dict = field(default_factory=dict)
    base_url: str = "http://localhost:8000"
    currency: str = "USD"
    pay_url: str = "/pay"
    checkout_origin: str = "https://checkout.stripe.com"  # where the pay form's redirect goes (CSP form-action)
    min_payment: Decimal = Decimal("1.00")
    recent_days: int = 120
    ledger_dir: Path = Path("content/ledger")
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    columns: dict = field(default_factory=dict)  # export header -> our column, lower-cased
    customer_columns: dict = field(default_factory=dict)
    type_aliases: dict = field(default_factory=dict)
    out: Path = Path("site")
    staff_dir: Path = Path("staff")
    state_dir: Path = Path(".portal")
    content_dir: Path = Path("content")
    templates_dir: Path = Path("site_templates")
    source: Path | None = None
    raw: str = ""  # the file's text, part of every page's inputs
    smtp: Smtp | None = None  # None: no [smtp] section, so reminders cannot be sent


def load(root: Path | str = ".", path: Path | str | None = None) -> Settings:
    """Read and check the settings file; all problems are raised together as InputError."""
    root = Path(root).resolve()
    path = Path(path) if path else root / "content" / "settings.toml"
    rel = _rel(path, root)
    if not path.exists():
        raise InputError([Problem(rel, 0, "settings file not found (expected TOML, see README)")])
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:  # Python 3.11 puts the position only in the message
        found = re.search(r"\(at line (\d+), column \d+\)", str(e))
        line = int(found[1]) if found else 0
        message = re.sub(r" \(at line \d+, column (\d+)\)", r" (column \1)", str(e))
        raise InputError([Problem(rel, line, f"not valid TOML: {message}")]) from e
    problems: list[Problem] = []

    def bad(msg: str) -> None:
        problems.append(Problem(rel, _line_of(text, msg.split("'")[1] if "'" in msg else ""), msg))

    for section, value in data.items():
        if section not in _SECTIONS:
            bad(f"unknown section '{section}' (expected one of {', '.join(sorted(_SECTIONS))})")
        elif not isinstance(value, dict):
            bad(f"'{section}' must be a table")
        else:
            for key in value:
                if key not in _SECTIONS[section]:
                    bad(f"unknown key '{key}' in [{section}] (expected one of {', '.join(sorted(_SECTIONS[section]))})")
    company = dict.fromkeys(_SECTIONS["company"], "") | {k: str(v) for k, v in data.get("company", {}).items()}
    if not company.get("name"):
        problems.append(Problem(rel, _line_of(text, "[company]"),
                                "'name' missing in [company] (the company name printed on every statement)"))
    portal = data.get("portal", {})
    ledger = data.get("ledger", {})
    build = data.get("build", {})
    currency = str(portal.get("currency", "USD")).upper()
    if not is_currency(currency):
        bad(f"'currency' {currency!r} in [portal] is not an ISO 4217 currency code")
    try:
        min_payment = Decimal(str(portal.get("min_payment", "1.00")))
    except InvalidOperation:
        bad("'min_payment' in [portal] must be a decimal amount such as \"1.00\"")
        min_payment = Decimal("1.00")
    recent_days = portal.get("recent_days", 120)
    if not isinstance(recent_days, int) or recent_days < 0:
        bad("'recent_days' in [portal] must be a whole number of days")
        recent_days = 120
    formats = ledger.get("date_formats", ["%Y-%m-%d"])
    if not (isinstance(formats, list) and formats and all(isinstance(f, str) for f in formats)):
        bad("'date_formats' in [ledger] must be a list of strptime formats such as [\"%m/%d/%Y\"]")
        formats = ["%Y-%m-%d"]
    columns = _column_map(ledger.get("columns", {}), LEDGER_COLUMNS, "columns", bad)
    customer_columns = _column_map(ledger.get("customer_columns", {}), CUSTOMER_COLUMNS, "customer_columns", bad)
    types = {str(k).strip().lower(): str(v).strip().lower() for k, v in ledger.get("types", {}).items()}
    for alias, target in types.items():
        if target not in ENTRY_TYPES:
            problems.append(Problem(rel, _line_of(text.lower(), alias) or _line_of(text, "[ledger.types]"),
                                    f"[ledger.types] maps {alias!r} to {target!r} (expected one of {', '.join(ENTRY_TYPES)})"))
    smtp = _smtp(data.get("smtp"), text, rel, problems)
    if problems:
        raise InputError(problems)
    content = root / "content"
    return Settings(
        root=root,
        company=company,
        base_url=str(portal.get("base_url", "http://localhost:8000")).rstrip("/"),
        currency=currency,
        pay_url=str(portal.get("pay_url", "/pay")),
        checkout_origin=(os.environ.get("PORTAL_CHECKOUT_ORIGIN")
                         or str(portal.get("checkout_origin", "https://checkout.stripe.com"))).rstrip("/"),
        min_payment=min_payment,
        recent_days=recent_days,
        ledger_dir=(content / str(ledger.get("dir", "ledger"))),
        date_formats=tuple(formats),
        columns=columns,
        customer_columns=customer_columns,
        type_aliases=types,
        out=root / str(build.get("out", "site")),
        staff_dir=root / str(build.get("staff_dir", "staff")),
        state_dir=root / str(build.get("state_dir", ".portal")),
        content_dir=content,
        templates_dir=root / "site_templates",
        source=path,
        raw=text,
        smtp=smtp,
    )


def _smtp(table, text: str, rel: str, problems: list) -> Smtp | None:
    """The [smtp] section, each bad value reported at its own line."""
    if not isinstance(table, dict):
        return None

    def bad(key: str, msg: str) -> None:
        problems.append(Problem(rel, _key_line(text, "smtp", key), f"'{key}' in [smtp] {msg}"))

    before = len(problems)
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
    if not isinstance(sender, str) or (sender and ("@" not in sender or any(c.isspace() for c in sender))):
        bad("from", "must be an email address such as \"ar@example.com\"")
    if len(problems) > before:
        return None
    return Smtp(host.strip(), port, starttls, user, sender)


def _key_line(text: str, section: str, key: str) -> int:
    """The line of `key = …` inside [section] (a bare search would find 'port' in [portal])."""
    inside = False
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            inside = stripped == f"[{section}]"
        elif inside and re.match(rf"\s*\"?{re.escape(key)}\"?\s*=", line):
            return n
    return _line_of(text, f"[{section}]")


def _column_map(table, ours, name, bad) -> dict:
    """[ledger.columns] maps our column name to the export's header; invert it for reading."""
    out = {}
    for key, header in table.items():
        if key not in ours:
            bad(f"unknown column '{key}' in [ledger.{name}] (expected one of {', '.join(ours)})")
        else:
            out[str(header).strip().lower()] = key
    return out


def _line_of(text: str, needle: str) -> int:
    if not needle:
        return 0
    for n, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return n
    return 0


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)
