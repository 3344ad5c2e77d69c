"""CSV cells for staff files: minimal quoting, and no spreadsheet formula can be smuggled in."""
from __future__ import annotations

import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """Neutralise spreadsheet formula injection: a cell starting with = + - @ is prefixed with '."""
    return "'" + value if value.startswith(FORMULA_START) else value


def csv_cell(text: str) -> str:
    """A CSV cell as csv.writer writes it (minimal quoting)."""
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if _QUOTED(text) else text


_QUOTED = re.compile('[,"\n\r]').search  # what makes csv.writer quote a cell (one scan, not four)
