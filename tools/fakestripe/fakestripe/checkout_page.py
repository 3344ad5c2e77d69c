"""The hosted Checkout page at ``session.url`` (``/c/pay/<cs_id>``): plain HTML forms, no
JavaScript, no third-party assets. Stable selectors for browser tests:

    main#checkout[data-session][data-status]   the page; data-status is open/complete/expired
    #amount                                    the total, e.g. "12.34 USD"
    #email                                     customer email (prefilled from customer_email)
    #cardNumber #cardExpiry #cardCvc #billingName   card fields (expiry "MM / YY")
    #submit                                    pay by card        (name=method value=card)
    #accountHolderName #routingNumber #accountNumber   US bank account fields (usd only)
    #sepaName #iban #pay-sepa                            SEPA Direct Debit fields (eur, when allowed)
    #bacsName #sortCode #bacsAccountNumber #pay-bacs     Bacs Direct Debit fields (gbp, when allowed)
    #pay-bank                                  pay by bank        (name=method value=bank)
    #error                                     the error message (declines, invalid input)
    #cancel                                    link to cancel_url
    #authenticate-complete / #authenticate-fail   on the 3-D Secure page (/c/pay/<id>/authenticate)

A successful payment answers 303 to ``success_url`` with ``{CHECKOUT_SESSION_ID}`` replaced.
"""
from __future__ import annotations

import copy
import html
import re
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from . import confirm
from .fees import format_amount
from .payments import TEST_ACCOUNT, TEST_BACS_ACCOUNT, TEST_IBAN, TEST_ROUTING, TEST_SORT_CODE
from .wire import StripeError

if TYPE_CHECKING:
    from .fake import FakeStripe

STYLE = """body{font-family:system-ui,sans-serif;background:#f6f9fc;margin:0;color:#1a1f36}
main{max-width:460px;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;
box-shadow:0 2px 8px rgba(0,0,0,.08)}label{display:block;margin:.6rem 0 .2rem;font-size:.9rem}
input{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #ccd;border-radius:4px}
button{margin-top:1rem;width:100%;padding:.7rem;border:0;border-radius:4px;background:#635bff;
color:#fff;font-size:1rem;cursor:pointer}button.secondary{background:#3c4257}
#error{color:#b00020;background:#fdecea;padding:.6rem;border-radius:4px}
.badge{display:inline-block;background:#ffde92;color:#7a4a00;padding:.1rem .5rem;border-radius:4px;
font-size:.8rem}table{width:100%;border-collapse:collapse}td{padding:.25rem 0}
td.n{text-align:right}fieldset{border:1px solid #e3e8ee;border-radius:6px;margin-top:1rem}"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _page(title: str, body: str, session: dict, status: int = 200) -> Response:
    doc = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
           f'<meta name="viewport" content="width=device-width,initial-scale=1">'
           f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
           f'<main id="checkout" data-session="{_e(session["id"])}" '
           f'data-status="{_e(session["status"])}"><p><span class="badge">TEST MODE</span> '
           f"fakestripe Checkout</p>{body}</main></body></html>")
    return Response(doc, status=status, mimetype="text/html",
                    headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


def _summary(fake: FakeStripe, session: dict) -> str:
    rows = "".join(
        f'<tr><td>{_e(i["description"])} × {i["quantity"]}</td>'
        f'<td class="n">{_e(format_amount(i["amount_total"], i["currency"]))}</td></tr>'
        for i in fake.store.extras[session["id"]]["line_items"])
    total = format_amount(session["amount_total"], session["currency"])
    return (f'<table id="items">{rows}</table><h1>Pay <span id="amount">{_e(total)}</span></h1>')


def render_form(fake: FakeStripe, session: dict, error: str | None = None,
                form: dict | None = None) -> Response:
    form = form or {}
    email = form.get("email") or session["customer_email"] or ""
    readonly = " readonly" if session["customer_email"] else ""
    total = format_amount(session["amount_total"], session["currency"])
    parts = [_summary(fake, session)]
    if error:
        parts.append(f'<p id="error" role="alert">{_e(error)}</p>')
    parts.append(f'<form id="payment-form" method="post" action="/c/pay/{_e(session["id"])}">'
                 f'<label for="email">Email</label><input id="email" name="email" type="email" '
                 f'autocomplete="email" value="{_e(email)}"{readonly}>')
    if "card" in session["payment_method_types"]:
        parts.append(
            '<fieldset id="card"><legend>Card</legend>'
            '<label for="cardNumber">Card number</label><input id="cardNumber" name="cardNumber"'
            ' inputmode="numeric" autocomplete="cc-number" placeholder="4242 4242 4242 4242" '
            f'value="{_e(form.get("cardNumber"))}"><label for="cardExpiry">Expiry</label>'
            '<input id="cardExpiry" name="cardExpiry" placeholder="MM / YY" '
            f'autocomplete="cc-exp" value="{_e(form.get("cardExpiry"))}">'
            '<label for="cardCvc">CVC</label><input id="cardCvc" name="cardCvc" '
            'autocomplete="cc-csc" placeholder="123">'
            '<label for="billingName">Name on card</label><input id="billingName" '
            f'name="billingName" autocomplete="cc-name" value="{_e(form.get("billingName"))}">'
            f'<button id="submit" type="submit" name="method" value="card">Pay {_e(total)}'
            "</button></fieldset>")
    if "sepa_debit" in session["payment_method_types"]:
        parts.append(
            '<fieldset id="sepa"><legend>SEPA Direct Debit</legend>'
            '<label for="sepaName">Account holder name</label>'
            f'<input id="sepaName" name="sepaName" value="{_e(form.get("sepaName"))}">'
            f'<label for="iban">IBAN</label><input id="iban" name="iban" placeholder="{TEST_IBAN}" '
            f'value="{_e(form.get("iban"))}">'
            '<button id="pay-sepa" class="secondary" type="submit" name="method" value="sepa_debit">'
            "Pay with SEPA Direct Debit</button></fieldset>")
    if "bacs_debit" in session["payment_method_types"]:
        parts.append(
            '<fieldset id="bacs"><legend>Bacs Direct Debit</legend>'
            '<label for="bacsName">Account holder name</label>'
            f'<input id="bacsName" name="bacsName" value="{_e(form.get("bacsName"))}">'
            f'<label for="sortCode">Sort code</label><input id="sortCode" name="sortCode" '
            f'inputmode="numeric" placeholder="{TEST_SORT_CODE}" value="{_e(form.get("sortCode"))}">'
            '<label for="bacsAccountNumber">Account number</label><input id="bacsAccountNumber" '
            f'name="bacsAccountNumber" inputmode="numeric" placeholder="{TEST_BACS_ACCOUNT}" '
            f'value="{_e(form.get("bacsAccountNumber"))}">'
            '<button id="pay-bacs" class="secondary" type="submit" name="method" value="bacs_debit">'
            "Pay with Bacs Direct Debit</button></fieldset>")
    if "us_bank_account" in session["payment_method_types"]:
        parts.append(
            '<fieldset id="bank"><legend>US bank account</legend>'
            '<label for="accountHolderName">Account holder name</label>'
            '<input id="accountHolderName" name="accountHolderName" '
            f'value="{_e(form.get("accountHolderName"))}">'
            '<label for="routingNumber">Routing number</label><input id="routingNumber" '
            f'name="routingNumber" inputmode="numeric" placeholder="{TEST_ROUTING}" '
            f'value="{_e(form.get("routingNumber"))}"><label for="accountNumber">Account '
            'number</label><input id="accountNumber" name="accountNumber" inputmode="numeric" '
            f'placeholder="{TEST_ACCOUNT}" value="{_e(form.get("accountNumber"))}">'
            '<button id="pay-bank" class="secondary" type="submit" name="method" value="bank">'
            "Pay with US bank account</button></fieldset>")
    parts.append("</form>")
    if session["cancel_url"]:
        parts.append(f'<p><a id="cancel" href="{_e(session["cancel_url"])}">Cancel and go '
                     "back</a></p>")
    return _page(f"Pay {total}", "".join(parts), session)


def render_authenticate(session: dict) -> Response:
    body = (f'<h1>Authenticate</h1><p id="authenticate-info">3D Secure 2 test page: your bank '
            'asks you to confirm this payment of '
            f'{_e(format_amount(session["amount_total"], session["currency"]))}.</p>'
            f'<form id="authenticate-form" method="post" action="/c/pay/{_e(session["id"])}/'
            'authenticate"><button id="authenticate-complete" type="submit" name="action" '
            'value="complete">Complete authentication</button><button id="authenticate-fail" '
            'class="secondary" type="submit" name="action" value="fail">Fail authentication'
            "</button></form>")
    return _page("Authenticate", body, session)


def render_closed(session: dict) -> Response:
    if session["status"] == "complete":
        body = '<h1 id="done">Payment received</h1>' if session["payment_status"] == "paid" \
            else '<h1 id="done">Payment submitted</h1><p>Bank payments take a few days.</p>'
        if session["success_url"]:
            body += f'<p><a id="continue" href="{_e(success_redirect(session))}">Continue</a></p>'
        return _page("Payment complete", body, session)
    return _page("Session expired", '<h1 id="expired">This Checkout Session has expired.</h1>',
                 session, status=410)


def success_redirect(session: dict) -> str:
    return (session["success_url"] or f"/c/pay/{session['id']}").replace(
        "{CHECKOUT_SESSION_ID}", session["id"])


def _expiry(text: str) -> tuple[int, int] | None:
    if not text.strip():
        return 12, 2034
    match = re.fullmatch(r"\s*(\d{1,2})\s*/?\s*(\d{2}|\d{4})\s*", text)
    if not match:
        return None
    month, year = int(match.group(1)), int(match.group(2))
    year = year + 2000 if year < 100 else year
    return (month, year) if 1 <= month <= 12 else None


def handle(fake: FakeStripe, request: Request) -> Response:
    match = re.fullmatch(r"/c/pay/([A-Za-z0-9_]+)(/authenticate)?/?", request.path)
    fake._run(lambda store: None)               # let time act (expiry) and deliver its events
    with fake.store.lock:
        session = fake.store.find(match.group(1)) if match else None
        if session is None or session["object"] != "checkout.session":
            return Response("<!doctype html><title>Not found</title><h1>Something went wrong"
                            "</h1><p>The page you were looking for could not be found.</p>",
                            status=404, mimetype="text/html")
        session = copy.deepcopy(session)
        pi = fake.store.find(session["payment_intent"])
        waiting = pi is not None and pi["status"] == "requires_action"
    if session["status"] != "open":
        return render_closed(session)
    if request.method == "GET":
        return render_authenticate(session) if waiting else render_form(fake, session)
    form = request.form.to_dict()
    try:
        if match.group(2):
            outcome = fake._run(lambda s: confirm.authenticate(
                s, session["id"], form.get("action") == "complete"))
        elif form.get("method") == "sepa_debit":
            outcome = fake._run(lambda s: confirm.pay_sepa(
                s, session["id"], form.get("iban", ""), name=form.get("sepaName") or None,
                email=form.get("email") or None))
        elif form.get("method") == "bacs_debit":
            outcome = fake._run(lambda s: confirm.pay_bacs(
                s, session["id"], form.get("sortCode", ""), form.get("bacsAccountNumber", ""),
                name=form.get("bacsName") or None, email=form.get("email") or None))
        elif form.get("method") == "bank":
            outcome = fake._run(lambda s: confirm.pay_bank(
                s, session["id"], form.get("routingNumber", ""), form.get("accountNumber", ""),
                name=form.get("accountHolderName") or None, email=form.get("email") or None))
        else:
            expiry = _expiry(form.get("cardExpiry", ""))
            if expiry is None:
                return render_form(fake, session, "Your card's expiration date is incomplete.",
                                   form)
            outcome = fake._run(lambda s: confirm.pay_card(
                s, session["id"], form.get("cardNumber", ""), exp_month=expiry[0],
                exp_year=expiry[1], name=form.get("billingName") or None,
                email=form.get("email") or None))
    except StripeError as exc:
        return render_form(fake, session, exc.message, form)
    if outcome.kind == "authenticate":
        return Response(status=303, headers={"Location": f"/c/pay/{session['id']}/authenticate"})
    if outcome.kind == "error":
        return render_form(fake, outcome.session, outcome.message, form)
    return Response(status=303, headers={"Location": success_redirect(outcome.session)})
