"""Parameters checked against the installed SDK's own typed params (``stripe.params``).

Every key an endpoint receives must be declared by the SDK's TypedDict for that call (the
``RequestOptions`` keys such as ``idempotency_key`` are client-side and never on the wire); an
unknown key is answered as Stripe does, 400 ``parameter_unknown``, at any depth
(``line_items[0][price_data][foo]``). Keys the TypedDict marks required are checked
(``parameter_missing``), and values are coerced by their declared type: ``int`` ("Invalid
integer"), ``bool``, closed ``Literal`` sets, lists, hashes and nested TypedDicts.
"""
from __future__ import annotations

import sys
import types
import typing
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

import stripe
import stripe.params as sp
import stripe.params.checkout as sp_checkout

from .wire import StripeError

RequestOptions = stripe.RequestOptions  # the SDK's public name for its client-side options


def is_typeddict(ann: Any) -> bool:
    """A TypedDict class, whichever module made it (the SDK's come from typing_extensions)."""
    return isinstance(ann, type) and issubclass(ann, dict) and hasattr(ann, "__required_keys__")

CLIENT_SIDE = frozenset(RequestOptions.__annotations__)
_UNIONS = (typing.Union, types.UnionType)
_WRAPPERS = {typing.NotRequired, typing.Required}


def sdk_params(name: str) -> type:
    """``"checkout.SessionCreateParams"`` or ``"RefundCreateParams"`` → the SDK's TypedDict."""
    module, _, attr = name.rpartition(".")
    return getattr(sp_checkout if module == "checkout" else sp, attr)


def _evaluate(ann: Any, namespace: dict) -> Any:
    if isinstance(ann, str):
        ann = typing.ForwardRef(ann)
    if isinstance(ann, typing.ForwardRef):
        ann = eval(ann.__forward_arg__, namespace)
        return _evaluate(ann, namespace)
    origin = typing.get_origin(ann)
    if origin in _WRAPPERS:
        return _evaluate(typing.get_args(ann)[0], namespace)
    return ann


@cache
def _fields(cls: type) -> tuple[dict[str, Any], frozenset[str]]:
    """Wire keys of a TypedDict → resolved annotation (None where it cannot be resolved)."""
    namespace = dict(vars(typing))
    namespace.update(vars(sys.modules[cls.__module__]))
    annotations = dict(cls.__annotations__)            # TypedDicts merge inherited keys
    client_side = CLIENT_SIDE if set(annotations) >= CLIENT_SIDE else frozenset()
    fields: dict[str, Any] = {}
    for key, ann in annotations.items():
        if key in client_side:
            continue
        try:
            fields[key] = _evaluate(ann, namespace)
        except Exception:                                  # pragma: no cover - unresolvable
            fields[key] = None
    required = frozenset(getattr(cls, "__required_keys__", ())) - client_side
    return fields, required


def _resolve_arg(arg: Any, cls_module: str) -> Any:
    if isinstance(arg, (str, typing.ForwardRef)):
        namespace = dict(vars(typing))
        namespace.update(vars(sys.modules[cls_module]))
        return _evaluate(arg, namespace)
    return arg


def _label(param: str) -> str:
    return param.rsplit("[", 1)[-1].rstrip("]")


def _coerce(value: Any, ann: Any, param: str, module: str) -> Any:
    ann = _resolve_arg(ann, module)
    if ann is None or ann is Any:
        return value
    origin = typing.get_origin(ann)
    if origin in _UNIONS:
        alternatives = [_resolve_arg(a, module) for a in typing.get_args(ann)]
        alternatives = [a for a in alternatives if a is not type(None)]
        if isinstance(value, dict):
            shaped = [a for a in alternatives if is_typeddict(a)] or \
                     [a for a in alternatives if _is_hash(a)]
        elif isinstance(value, list):
            shaped = [a for a in alternatives if typing.get_origin(a) in (list, list)] \
                or [a for a in alternatives if _is_hash(a)]
        else:
            shaped = [a for a in alternatives if not is_typeddict(a) and not _is_hash(a)
                      and typing.get_origin(a) not in (list, list)]
            if str in shaped:                     # an open enumeration: any string will do
                shaped = [str]
        first: StripeError | None = None
        for alternative in shaped or alternatives:
            try:
                return _coerce(value, alternative, param, module)
            except StripeError as exc:
                first = first or exc
        raise first or StripeError(f"Invalid value for {param}", param=param)
    if is_typeddict(ann):
        if not isinstance(value, dict):
            raise StripeError(f"Invalid object: {param} must be a hash", param=param,
                              code="parameter_invalid_string")
        return check(value, ann, prefix=param)
    if origin in (list, list):
        if isinstance(value, dict) and not value:
            return []
        if not isinstance(value, list):
            raise StripeError(f"Invalid array: {param} must be an array", param=param)
        (item,) = typing.get_args(ann) or (None,)
        return [_coerce(v, item, f"{param}[{i}]", module) for i, v in enumerate(value)]
    if _is_hash(ann):
        if value == "":
            return {}
        if isinstance(value, list):
            value = {str(i): v for i, v in enumerate(value)}
        if not isinstance(value, dict):
            raise StripeError(f"Invalid hash: {param} must be a hash", param=param)
        return value
    if isinstance(value, (dict, list)):
        raise StripeError(f"Invalid {_label(param)}: expected a single value, got a hash or "
                          "an array", param=param, code="parameter_invalid_string")
    if origin is typing.Literal:
        options = typing.get_args(ann)
        if value not in options:
            listed = ", ".join(options[:-1]) + (", or " if len(options) > 2 else " or ") \
                + options[-1] if len(options) > 1 else options[0]
            raise StripeError(f"Invalid {_label(param)}: must be one of {listed}", param=param)
        return value
    if ann is bool:
        if value not in ("true", "false"):
            raise StripeError(f"Invalid boolean: {value}", param=param,
                              code="parameter_invalid_boolean")
        return value == "true"
    if ann is int:
        try:
            return int(value, 10)
        except (TypeError, ValueError):
            raise StripeError(f"Invalid integer: {value}", param=param,
                              code="parameter_invalid_integer") from None
    if ann is Decimal or ann is float:
        try:
            return Decimal(value)
        except (InvalidOperation, TypeError):
            raise StripeError(f"Invalid decimal: {value}", param=param,
                              code="parameter_invalid_decimal") from None
    return value


def _is_hash(ann: Any) -> bool:
    origin = typing.get_origin(ann) or ann
    name = getattr(origin, "__name__", "")
    return origin in (dict, dict) or name in ("Mapping", "UntypedStripeObject")


def check(params: dict, cls: type, prefix: str = "") -> dict:
    """Validate and coerce ``params`` against the TypedDict ``cls``; raise StripeError."""
    fields, required = _fields(cls)
    out: dict[str, Any] = {}
    for key, value in params.items():
        param = f"{prefix}[{key}]" if prefix else key
        if key not in fields:
            raise StripeError(f"Received unknown parameter: {param}", param=param,
                              code="parameter_unknown")
        if value == "" and fields[key] is not str:
            out[key] = {} if _is_hash(fields[key]) else None       # "" unsets a value
            continue
        out[key] = _coerce(value, fields[key], param, cls.__module__)
    for key in sorted(required - set(out)):
        param = f"{prefix}[{key}]" if prefix else key
        raise StripeError(f"Missing required param: {param}.", param=param,
                          code="parameter_missing")
    return out


def validate(params: dict, name: str) -> dict:
    return check(params, sdk_params(name))


def check_metadata(metadata: dict | None, param: str = "metadata") -> dict:
    """Stripe's limits: at most 50 keys, keys ≤ 40 characters, values ≤ 500 characters."""
    metadata = {k: v for k, v in (metadata or {}).items() if v not in ("", None)}
    if len(metadata) > 50:
        raise StripeError(f"Invalid {param}: metadata can have up to 50 keys, but you passed in "
                          f"{len(metadata)} keys.", param=param)
    for key, value in metadata.items():
        if len(key) > 40:
            raise StripeError(f"Invalid {param}: metadata keys can be up to 40 characters long, "
                              f"but you passed in a key that is {len(key)} characters long.",
                              param=f"{param}[{key}]")
        if not isinstance(value, str):
            raise StripeError(f"Invalid {param}[{key}]: metadata values must be strings",
                              param=f"{param}[{key}]")
        if len(value) > 500:
            raise StripeError(f"Invalid {param}: metadata values can be up to 500 characters "
                              f"long, but you passed in a value that is {len(value)} characters "
                              "long.", param=f"{param}[{key}]")
    return metadata


def not_implemented(param: str) -> StripeError:
    """A real Stripe parameter this fake does not model: refuse loudly rather than ignore it."""
    return StripeError(f"fakestripe does not implement the `{param}` parameter (it is a real "
                       "Stripe parameter; extend tools/fakestripe if you need it).", param=param,
                       code="parameter_not_implemented_by_fake")


def only(params: dict, supported: set[str], ignored: frozenset[str] = frozenset(),
         prefix: str = "") -> None:
    for key in params:
        if key not in supported and key not in ignored:
            raise not_implemented(f"{prefix}[{key}]" if prefix else key)
