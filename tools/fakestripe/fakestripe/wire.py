"""Stripe's wire format: bracketed form parameters in, JSON envelopes out.

Stripe (and the official SDK) send ``application/x-www-form-urlencoded`` bodies and query strings
whose keys nest with brackets: ``line_items[0][price_data][currency]=usd``, ``metadata[k]=v``,
``expand[0]=payment_intent`` or ``expand[]=payment_intent``. Answers are JSON: single objects, list
envelopes ``{"object": "list", "data": [...], "has_more": ..., "url": ...}`` and error envelopes
``{"error": {"type", "message", "code", "param"}}``.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

DOCS = "https://stripe.com/docs/error-codes/"
_BRACKET = re.compile(r"\[([^\[\]]*)\]")


class StripeError(Exception):
    """An API error; ``envelope()`` is the JSON body Stripe would answer with."""

    def __init__(self, message: str, *, status: int = 400, type: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None, **extra: Any):
        super().__init__(message)
        self.message, self.status, self.type = message, status, type
        self.code, self.param, self.extra = code, param, extra

    def envelope(self) -> dict:
        err: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = DOCS + self.code.replace("_", "-")
        if self.param is not None:
            err["param"] = self.param
        err.update(self.extra)
        return {"error": err}


def missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(f"No such {kind}: '{object_id}'", status=404, code="resource_missing",
                       param=param)


def _parse_key(raw: str) -> list[str | None]:
    head, bracket, rest = raw.partition("[")
    if not bracket:
        return [raw]
    rest = "[" + rest
    tokens = _BRACKET.findall(rest)
    if not head or "".join(f"[{t}]" for t in tokens) != rest:
        raise StripeError(f"Invalid parameter name: {raw}", param=raw)
    if None in tokens[:-1] or "" in tokens[:-1]:
        raise StripeError(f"Invalid array: {raw} ('[]' may only end a key)", param=raw)
    return [head] + [t if t != "" else None for t in tokens]


def _assign(root: dict, path: list[str | None], value: str, raw: str) -> None:
    node = root
    for i, token in enumerate(path):
        last = i == len(path) - 1
        if token is None:                        # key[] appends
            token = str(len(node))
        if last:
            if isinstance(node.get(token), dict):
                raise StripeError(f"Invalid hash: {raw} is given both as a value and a hash",
                                  param=raw)
            node[token] = value
            return
        child = node.setdefault(token, {})
        if not isinstance(child, dict):
            raise StripeError(f"Invalid hash: {raw} is given both as a value and a hash",
                              param=raw)
        node = child


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    out = {k: _listify(v) for k, v in node.items()}
    if out and all(k.isdigit() for k in out):
        return [out[k] for k in sorted(out, key=int)]
    return out


def decode_form(data: bytes | str) -> dict:
    """Decode a form body or query string into nested dicts and lists (values stay strings)."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    root: dict = {}
    for raw, value in parse_qsl(data, keep_blank_values=True):
        _assign(root, _parse_key(raw), value, raw)
    return _listify(root)


def encode_form(params: dict, prefix: str = "") -> list[tuple[str, str]]:
    """The inverse of decode_form (used by the checkout page and tests)."""
    pairs: list[tuple[str, str]] = []
    items: Iterable = params.items() if isinstance(params, dict) else enumerate(params)
    for k, v in items:
        key = f"{prefix}[{k}]" if prefix else str(k)
        if isinstance(v, (dict, list, tuple)):
            pairs.extend(encode_form(v if not isinstance(v, tuple) else list(v), key))
        elif v is None:
            pairs.append((key, ""))
        elif isinstance(v, bool):
            pairs.append((key, "true" if v else "false"))
        else:
            pairs.append((key, str(v)))
    return pairs


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=False)


def in_range(value: int | None, spec: Any) -> bool:
    """Stripe's range filters: ``created=123`` or ``created[gte]=..&created[lt]=..``."""
    if spec is None:
        return True
    if value is None:
        return False
    if not isinstance(spec, dict):
        return value == spec
    checks = {"gt": value.__gt__, "gte": value.__ge__, "lt": value.__lt__, "lte": value.__le__}
    return all(checks[op](bound) for op, bound in spec.items() if bound is not None)


def paginate(items: list[dict], params: dict, url: str,
             sort_key: Callable[[str], tuple | None], kind: str) -> dict:
    """A list envelope. ``items`` are newest first; cursors compare by creation order, so an
    object outside the filtered set can still serve as a cursor, as on Stripe."""
    limit = params.get("limit")
    limit = 10 if limit is None else limit
    if not 1 <= limit <= 100:
        raise StripeError("Invalid limit: must be between 1 and 100", param="limit",
                          code="parameter_invalid_integer")
    after, before = params.get("starting_after"), params.get("ending_before")
    if after and before:
        raise StripeError("You may only specify one of these parameters: ending_before, "
                          "starting_after.", param="ending_before")
    cursor = after or before
    if cursor:
        key = sort_key(cursor)
        if key is None:
            raise missing(kind, cursor, "starting_after" if after else "ending_before")
        if after:
            rest = [o for o in items if sort_key(o["id"]) < key]
            page, has_more = rest[:limit], len(rest) > limit
        else:
            rest = [o for o in items if sort_key(o["id"]) > key]
            page, has_more = rest[-limit:], len(rest) > limit
    else:
        page, has_more = items[:limit], len(items) > limit
    return {"object": "list", "data": page, "has_more": has_more, "url": url}
