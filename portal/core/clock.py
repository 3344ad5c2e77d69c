"""The business's calendar: what day it is, and on what day a Stripe timestamp falls.

Statements are dated, payments recorded and links expired by the business's day, not the
server's UTC day: a card payment at 8 pm in New York is that day's payment, not tomorrow's.
`[portal] timezone` names the zone (an IANA name); empty means the machine's local zone.
"""
from __future__ import annotations

from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo


def zone(name: str) -> tzinfo | None:
    """The zone for a setting's value; None for the machine's local zone."""
    return ZoneInfo(name) if name else None


def today(tz: tzinfo | None) -> date:
    """Today's date where the business is."""
    return datetime.now(tz).date()


def day_of(timestamp: int, tz: tzinfo | None) -> date:
    """The business's date of a Unix timestamp (Stripe's `created`)."""
    return datetime.fromtimestamp(timestamp, tz).date()


def shown(d: date) -> str:
    """A date as statements and emails print it for customers: "7 Aug 2026"."""
    return f"{d.day} {d:%b %Y}"
