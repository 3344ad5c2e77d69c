"""What logs must never show: statement and pay tokens, Checkout Session ids, in any record."""
from __future__ import annotations

import logging
import re

# What logs must never show: statement tokens (a path under /s/ is a credential), signed tokens
# anywhere (pay tokens, return cookies), and Checkout Session ids (kept: their last 4 characters).
_SECRETS = (
    (re.compile(r"/s/[^/\s\"?']+"), "/s/[token]"),
    (re.compile(r"\bcs_(?:test_|live_)?[A-Za-z0-9]+?([A-Za-z0-9]{4})\b"), r"cs_[…\1]"),
    # itsdangerous tokens: payload[.timestamp].signature, the signature 27+ base64 characters
    (re.compile(r"[A-Za-z0-9_-]{6,}(?:\.[A-Za-z0-9_-]{4,})?\.[A-Za-z0-9_-]{27,}"), "[token]"),
)


def redact(text: str) -> str:
    """The text with statement tokens, signed tokens and Checkout Session ids blanked out."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactTokens(logging.Filter):
    """Applied to every handler's records: message, arguments and traceback text are redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """The record with its message (formatted with its arguments) and traceback text redacted."""
    if getattr(record, "_portal_redacted", False):
        return record
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # arguments that do not fit the message: leave it to the handler
        message = None
    if message is not None:
        record.msg, record.args = redact(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    record._portal_redacted = True
    return record


def _redact_every_record() -> None:
    """Every log record this process makes is redacted where it is made, whichever handler
    prints it (Flask's exception log, werkzeug's and gunicorn's access logs, ours)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "_portal_redacts", False):
        return

    def make(*args, **kwargs):
        return redact_record(factory(*args, **kwargs))

    make._portal_redacts = True  # type: ignore[attr-defined]  # the mark the getattr above looks for
    logging.setLogRecordFactory(make)
    logging.getLogger("stripe").setLevel(logging.INFO)  # the SDK's DEBUG output carries request bodies
