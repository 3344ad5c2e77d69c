"""Stripe's wire format: bracketed form params in, JSON objects, lists and error envelopes out."""
from __future__ import annotations

import json
import re

from werkzeug.wrappers import Response

_KEY = re.compile(r"([^\[\]]+)|\[([^\[\]]*)\]")


def parse_params(pairs) -> dict:
    """`a[b][0][c]=v` pairs (as the SDK sends them) → nested dicts and lists."""
    root: dict = {}
    for key, value in pairs:
        parts = [m.group(1) if m.group(1) is not None else m.group(2) for m in _KEY.finditer(key)]
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt = None if last else parts[i + 1]
            want = [] if (nxt == "" or (nxt is not None and nxt.isdigit())) else {}
            if isinstance(node, list):
                if part == "":
                    if last:
                        node.append(value)
                        break
                    node.append(want)
                    node = node[-1]
                    continue
                idx = int(part)
                while len(node) <= idx:
                    node.append(None)
                if last:
                    node[idx] = value
                else:
                    if node[idx] is None:
                        node[idx] = want
                    node = node[idx]
            else:
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, want)
    return root


class StripeError(Exception):
    """An error Stripe would answer with."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param

    def response(self) -> Response:
        body = {"error": {"type": self.type, "message": self.message}}
        if self.code:
            body["error"]["code"] = self.code
        if self.param:
            body["error"]["param"] = self.param
        return json_response(body, self.status)


def json_response(obj, status: int = 200) -> Response:
    return Response(json.dumps(obj), status=status, mimetype="application/json",
                    headers={"Request-Id": "req_fake", "Stripe-Version": "2026-10-28.endive"})


def page(items: list[dict], params: dict, url: str) -> dict:
    """A list envelope, newest first, paged with limit / starting_after / ending_before."""
    items = sorted(items, key=lambda o: (o.get("created", 0), o["id"]), reverse=True)
    limit = min(max(int(params.get("limit", 10)), 1), 100)
    if params.get("starting_after"):
        ids = [o["id"] for o in items]
        if params["starting_after"] not in ids:
            raise StripeError(400, f"No such object: '{params['starting_after']}'", param="starting_after")
        items = items[ids.index(params["starting_after"]) + 1:]
    elif params.get("ending_before"):
        ids = [o["id"] for o in items]
        items = items[:ids.index(params["ending_before"])] if params["ending_before"] in ids else []
        items = items[-limit:]
    return {"object": "list", "data": items[:limit], "has_more": len(items) > limit, "url": url}


def created_filter(params: dict):
    """A predicate for `created[gte]=…` style filters (or `created=…`)."""
    spec = params.get("created")
    if spec is None:
        return lambda o: True
    if not isinstance(spec, dict):
        return lambda o: o["created"] == int(spec)
    ops = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
    return lambda o: all(ops[k](o["created"], int(v)) for k, v in spec.items() if k in ops)
