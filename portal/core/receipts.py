"""Receipt numbers: a short name for one online payment, for the customer to quote."""
from __future__ import annotations

import hashlib


def receipt_number(payment_id: str) -> str:
    """"R-3F2A-9C1B" for a Stripe PaymentIntent id: the same payment, the same number, on its receipt
    and wherever it is shown; a digest, so it says nothing of the id."""
    ref = hashlib.sha256(payment_id.encode()).hexdigest()[:8].upper()
    return f"R-{ref[:4]}-{ref[4:]}"
