"""CSV cells for staff files: minimal quoting, and no spreadsheet formula can be smuggled in."""
from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """Neutralise spreadsheet formula injection: a cell starting with = + - @ is prefixed with '."""
    return "'" + value if value.startswith(FORMULA_START) else value


def csv_cell(text: str) -> str:
    """A CSV cell as csv.writer writes it (minimal quoting)."""
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(ch in text for ch in ',"\n\r') else text
