"""Money: Decimal amounts parsed from CSV text, one rounding rule, minor units toward Stripe."""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 currencies and their minor-unit exponent (ISO's, which is what invoices use).
# Anything not listed is rejected rather than guessed.
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF"
_THREE = "BHD JOD KWD OMR TND"
_TWO = (
    "USD EUR GBP CAD AUD NZD CHF SEK NOK DKK PLN CZK HUF RON BGN MXN BRL ARS COP PEN ZAR INR "
    "SGD HKD CNY MYR THB PHP IDR AED SAR QAR ILS TRY EGP NGN KES GHS MAD PKR BDT LKR NPR UAH "
    "RSD GEL KZT TWD"
)
EXPONENT: dict[str, int] = {
    **dict.fromkeys(_ZERO.split(), 0),
    **dict.fromkeys(_TWO.split(), 2),
    **dict.fromkeys(_THREE.split(), 3),
}
SYMBOL = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "CHF": "CHF "}
_QUANTUM = {e: Decimal(1).scaleb(-e) for e in (0, 2, 3)}
ZERO = Decimal(0)
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?")  # 1,234,567.89


class MoneyError(ValueError):
    """An amount or currency that cannot be read."""


def is_currency(code: str) -> bool:
    """True for an ISO 4217 code this portal knows the minor unit of."""
    return code in EXPONENT


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, half up (the one rounding rule)."""
    return amount.quantize(_QUANTUM[EXPONENT[currency]], rounding=ROUND_HALF_UP)


def parse_amount(text: str, currency: str, exact: bool = False) -> Decimal:
    """Read an amount as exports write it: '1234.5', '"1,234.50"', '(12.00)', '-3', '$10'.

    More decimals than the currency has are rounded half up, as a customer's typed amount is (the
    pay button shows what it became); with `exact` (a ledger's amounts) they are a MoneyError
    unless they are zeros ('12.340' is 12.34; '12.345' is refused, never changed)."""
    s = text.strip()
    if not s:
        raise MoneyError("empty amount")
    negative = False
    if s[0] == "(" and s[-1] == ")":
        negative, s = True, s[1:-1].strip()
    s = s.lstrip("$€£¥")  # '$-10' as well as '-$10'
    if s[:1] in ("-", "+"):
        negative, s = (s[0] == "-") != negative, s[1:].strip()
    s = s.lstrip("$€£¥").replace("\u00a0", "").replace(" ", "")
    # Plain ASCII digits only: Decimal() alone would also take '--5', '1e3', '1_000', 'NaN',
    # and a decimal comma ('12,34') would silently become 1234.
    if "," in s:
        if not _GROUPED.fullmatch(s):
            raise MoneyError(f"{text.strip()!r} is not an amount")
        s = s.replace(",", "")
    digits = s.replace(".", "", 1)
    if not (digits.isascii() and digits.isdigit()):
        raise MoneyError(f"{text.strip()!r} is not an amount")
    value = -Decimal(s) if negative else Decimal(s)
    try:
        rounded = quantize(value, currency)
    except InvalidOperation:  # more digits than Decimal's precision
        raise MoneyError(f"{text.strip()!r} is too large an amount") from None
    if exact and rounded != value:
        raise ExtraDecimals(text.strip(), currency, rounded)
    return rounded


class ExtraDecimals(MoneyError):
    """An amount with more decimals than its currency has: refused rather than rounded."""

    def __init__(self, text: str, currency: str, rounded: Decimal):
        decimals = EXPONENT[currency]
        super().__init__(f"{text!r} has more decimals than {currency} has ({decimals}); it is not rounded "
                         f"to {plain(rounded, currency)} unless [ledger] round_amounts = true")
        self.rounded = rounded


def to_minor(amount: Decimal, currency: str) -> int:
    """Integer minor units for Stripe (JPY is not multiplied by 100)."""
    q = quantize(amount, currency)
    return int(q.scaleb(EXPONENT[currency]))


def from_minor(units: int, currency: str) -> Decimal:
    """Decimal major units from Stripe's integer minor units."""
    return quantize(Decimal(units).scaleb(-EXPONENT[currency]), currency)


def fmt(amount: Decimal, currency: str) -> str:
    """Display form: '$1,234.50', '¥184,000', '-€12.00'; other currencies as 'SEK 10.00'."""
    e = EXPONENT[currency]
    sign = "-" if amount < 0 else ""
    body = f"{abs(amount):,.{e}f}"
    sym = SYMBOL.get(currency)
    return f"{sign}{sym}{body}" if sym else f"{sign}{currency} {body}"


def plain(amount: Decimal, currency: str) -> str:
    """Machine form for CSV and form fields: '1234.50', '184000'."""
    return format(amount, _PLAIN[currency])


_PLAIN = {code: f".{e}f" for code, e in EXPONENT.items()}  # plain's format, per currency (made once)
