#!/usr/bin/env python3
"""Write the demo company's ledger (content/ledger/*.csv) and check it.

    python scripts/make_demo_ledger.py           # (re)write customers.csv and 2026-07..2026-11.csv
    python scripts/make_demo_ledger.py --check   # read the CSVs back, validate, print balances

Harbor & Pine Supply Co. is a wholesale supplier (packaging, janitorial and kitchen supplies)
in Portland, Maine. Its accounting system exports the ledger after each monthly billing run;
the portal went live with the July export, which also carries the items from 15 June on.

Deterministic (fixed seed), stdlib only, and all money is Decimal built from integers: the same
script always writes byte-identical files. Most customers are simulated from a payment habit
(`prompt`, `paidup`, `slow`, `partial`, `lump`, `stalled`); a few are scripted by hand because
they carry a story (overpayment and refund, write-off, adjustments, credit notes).
"""
from __future__ import annotations

import argparse
import csv
import random
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path

LEDGER = Path(__file__).resolve().parent.parent / "content" / "ledger"  # the demo company's ledger
SEED = 20260715
FIRST, LAST = date(2026, 6, 15), date(2026, 11, 24)  # every entry is dated in this range
AS_OF = date(2026, 11, 25)  # the statements the story is told for
MONTHS = ("2026-07", "2026-08", "2026-09", "2026-10", "2026-11")
ENTRY_HEADER = ["date", "customer_id", "type", "ref", "amount", "currency", "due_date", "applies_to", "memo"]
CUSTOMER_HEADER = ["customer_id", "name", "email", "currency", "terms_days", "contact", "phone", "address",
                   "link_version"]
MINOR = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0}
ZERO = Decimal(0)


def q(amount: Decimal, cur: str) -> Decimal:
    """Round to the currency's minor unit, half up (the portal's one rounding rule)."""
    return amount.quantize(Decimal(1).scaleb(-MINOR[cur]), ROUND_HALF_UP)


# --------------------------------------------------------------------------- customers

@dataclass
class Cust:
    id: str
    name: str
    email: str
    currency: str
    terms: int | None
    contact: str
    phone: str
    address: str
    link_version: int = 1
    habit: str = "prompt"
    size: tuple[int, int] = (400, 4000)  # invoice range in major units
    gap: tuple[int, int] = (21, 35)  # days between invoices
    hold: date | None = None  # credit hold: no invoices after this date
    stop: date | None = None  # invoices after this date are never paid
    notes: str = ""


C = Cust
CUSTOMERS = [
    C("C1001", "Bayside Hardware & Lumber", "ap@baysidehardware.example", "USD", 30, "Dana Whitcomb",
      "(207) 555-0112", "77 Route 1, Falmouth, ME 04105", habit="prompt", size=(600, 5200)),
    C("C1002", "O'Brien & Daughters Bakery", "accounts@obrienbakery.example", "USD", 30, "Maeve O'Brien",
      "(617) 555-0139", "212 Hanover Street, Boston, MA 02113", habit="script",
      notes="damaged-pallet credit note, pays in instalments"),
    C("C1003", "Granite State Grocers", "payables@granitegrocers.example", "USD", 30, "Luis Ortega",
      "(603) 555-0176", "1450 Elm Street, Manchester, NH 03101", habit="paidup", size=(1500, 7800)),
    C("C1004", "Kettle Pond Café", "hello@kettlepondcafe.example", "USD", 15, "Priya Natarajan",
      "(802) 555-0121", "9 Church Street, Burlington, VT 05401", habit="prompt", size=(150, 900),
      gap=(18, 30)),
    C("C1005", "Northwind Marine Outfitters", "ap@northwindmarine.example", "USD", 45, "Gordon Leavitt",
      "(207) 555-0163", "3 Tillson Avenue, Rockland, ME 04841", habit="slow", size=(800, 6400)),
    C("C1006", "Grand Meridian Hotel Group", "ap.invoices@grandmeridian.example", "USD", None,
      "Accounts Payable Dept.", "(212) 555-0190",
      "Grand Meridian Hotel Group\nAttn: Accounts Payable, 14th Floor\n600 Lexington Avenue\n"
      "New York, NY 10022", habit="script", notes="contract account: no terms_days, every invoice has a due date"),
    C("C1007", "Lakeside Deli & Catering", "books@lakesidedeli.example", "USD", 30, "Tom Ferreira",
      "(508) 555-0145", "48 Main Street, Worcester, MA 01608", habit="script",
      notes="paid an invoice twice; part refunded, the rest kept on account"),
    C("C1008", "Two Rivers Brewing Company", "office@tworiversbrewing.example", "USD", 30, "Ken Dubois",
      "(207) 555-0187", "25 Mill Street, Lewiston, ME 04240", habit="script",
      notes="stopped paying in July: 90+ days overdue, on credit hold"),
    C("C1009", "Copper Kettle Diner", "copperkettle@diner.example", "USD", 15, "Rita Papadakis",
      "(978) 555-0108", "301 Essex Street, Salem, MA 01970", habit="paidup", size=(120, 780), gap=(16, 28)),
    C("C1010", "Maplewood School District Food Services", "ap@maplewoodschools.example", "USD", 60,
      "Sharon Beaulieu", "(207) 555-0155",
      "Maplewood School District\nFood Services Office, Room 12\n88 School Street\nBrunswick, ME 04011",
      habit="slow", size=(1200, 8800), gap=(26, 38)),
    C("C1011", "Atlantic Fish Market", "ap@atlanticfish.example", "USD", 30, "Vinny Russo",
      "(401) 555-0172", "6 Wharf Road, Newport, RI 02840", habit="stalled", size=(700, 3900), gap=(16, 24),
      hold=date(2026, 8, 31), stop=date(2026, 7, 31), notes="stopped paying in August: 61-90 days overdue"),
    C("C1012", "Pinecrest Assisted Living", "finance@pinecrestliving.example", "USD", 45, "Alice Moreau",
      "(603) 555-0126", "140 Pinecrest Drive, Concord, NH 03301", habit="prompt", size=(900, 4800)),
    C("C1013", "Saltwater Taco Co.", "owner@saltwatertaco.example", "USD", 30, "Jess Navarro",
      "(207) 555-0131", "55 Wharf Street, Portland, ME 04101", habit="script",
      notes="short-paid an invoice by 18.75: written off"),
    C("C1014", "Blue Heron Inn", "innkeeper@blueheroninn.example", "USD", 30, "Martha Quinn",
      "(207) 555-0194", "12 Shore Road, Ogunquit, ME 03907", habit="paidup", size=(300, 2400)),
    C("C1015", "Riverside Auto Detailing", "riversideauto@detail.example", "USD", 15, "Marcus Bell",
      "(860) 555-0117", "990 Riverside Avenue, Hartford, CT 06103", habit="lump", size=(150, 950),
      gap=(14, 24)),
    C("C1016", "Fenwick Janitorial Services", "billing@fenwickjanitorial.example", "USD", 30, "Paul Fenwick",
      "(617) 555-0183", "17 Dorchester Avenue, Boston, MA 02127", habit="script",
      notes="partial payments; freight re-bill as a positive adjustment"),
    C("C1017", "Harvest Table Restaurant Group", "ap@harvesttable.example", "USD", 45, "Nina Castellano",
      "(617) 555-0150", "400 Boylston Street, Suite 5, Boston, MA 02116", habit="script",
      notes="returned-goods credit note; contract-price correction as a negative adjustment"),
    C("C1018", "Old Port Coffee Roasters", "ap@oldportcoffee.example", "USD", 30, "Eli Thibodeau",
      "(207) 555-0102", "31 Fore Street, Portland, ME 04101", habit="script",
      notes="paid up, one invoice settled partly by a credit note"),
    C("C1019", "Mountain Laurel Lodge", "frontdesk@mountainlaurel.example", "USD", 60, "Carol Haskins",
      "(603) 555-0168", "2 Lodge Road, North Conway, NH 03860", habit="slow", size=(500, 3600), gap=(28, 40)),
    C("C1020", "Cedar & Sage Spa", "accounts@cedarandsage.example", "USD", 30, "Imani Brooks",
      "(207) 555-0141", "19 Exchange Street, Portland, ME 04101", habit="prompt", size=(200, 1400)),
    C("C1021", "Brightside Daycare Centers", "ap@brightsidedaycare.example", "USD", 30, "Ruth Albrecht",
      "(508) 555-0124", "75 Union Avenue, Framingham, MA 01702", link_version=2, habit="prompt",
      size=(300, 2200), notes="link_version 2: old statement links revoked"),
    C("C1022", "Penobscot Bay Provisions", "orders@penobscotprovisions.example", "USD", 30, "Walt Hardy",
      "(207) 555-0178", "210 Main Street, Belfast, ME 04915", habit="stalled", size=(900, 4200), gap=(14, 22),
      hold=date(2026, 8, 10), stop=date(2026, 6, 30), notes="stopped paying in July: 90+ days overdue"),
    C("C1023", "Sunrise Bagel Works", "sunrisebagels@bagels.example", "USD", 15, "Avi Katz",
      "(401) 555-0159", "44 Thayer Street, Providence, RI 02906", habit="paidup", size=(180, 1100),
      gap=(18, 28)),
    C("C1024", "Whitfield Property Management", "payables@whitfieldpm.example", "USD", 45, "Greg Whitfield",
      "(860) 555-0133", "1 Constitution Plaza, Hartford, CT 06103", habit="lump", size=(700, 3800)),
    C("C1025", "Union Street Pizzeria", "unionstpizza@pizza.example", "USD", 30, "Sal Marino",
      "(207) 555-0119", "8 Union Street, Bangor, ME 04401", habit="stalled", size=(300, 1600), gap=(14, 21),
      hold=date(2026, 9, 5), stop=date(2026, 7, 25), notes="stopped paying in August: 61-90 days overdue"),
    C("C1026", "Greenleaf Market Co-op", "ap@greenleafcoop.example", "USD", 30, "Hannah Lindqvist",
      "(802) 555-0185", "250 North Winooski Avenue, Burlington, VT 05401", habit="prompt", size=(900, 5600)),
    C("C1027", "Casco Catering Co.", "office@cascocatering.example", "USD", 30, "Renee Gagnon",
      "(207) 555-0166", "120 Presumpscot Street, Portland, ME 04103", habit="partial", size=(600, 3400)),
    C("C1028", "Highland Veterinary Clinic", "frontdesk@highlandvet.example", "USD", 30, "Dr. Omar Haddad",
      "(603) 555-0147", "67 Highland Avenue, Nashua, NH 03060", habit="paidup", size=(150, 900),
      gap=(24, 36)),
    C("C1029", "Tidewater Seafood Shack", "tidewatershack@seafood.example", "USD", 15, "Bobby Lund",
      "(207) 555-0128", "4 Harbor Road, Kennebunkport, ME 04046", habit="slow", size=(250, 1800),
      gap=(16, 26)),
    C("C1030", "Ledgewood Country Club", "controller@ledgewoodcc.example", "USD", 30, "Frances Whitney",
      "(978) 555-0161",
      "Ledgewood Country Club\nAttn: Controller\n1 Ledgewood Drive\nAndover, MA 01810",
      habit="prompt", size=(1100, 6900)),
    C("C1031", "Merrymeeting Ice Cream Parlor", "scoops@merrymeeting.example", "USD", 30, "Jo Pelletier",
      "(207) 555-0104", "15 Front Street, Bath, ME 04530", habit="lump", size=(150, 1000), gap=(20, 32)),
    C("C1032", "Fairhaven Community Hospital", "ap@fairhavenhospital.example", "USD", 60, "Procurement Office",
      "(508) 555-0192", "300 Hospital Drive, Fairhaven, MA 02719", habit="prompt", size=(2500, 9800),
      gap=(26, 36)),
    C("C1033", "Back Cove Fitness", "frontdesk@backcovefitness.example", "USD", 30, "Jamal Carter",
      "(207) 555-0137", "500 Forest Avenue, Portland, ME 04101", habit="prompt", size=(90, 450),
      gap=(30, 45)),
    C("C1034", "Café Zürich GmbH", "buchhaltung@cafe-zuerich.example", "EUR", 30, "Jürgen Bäumler",
      "+49 89 5550 1734", "Café Zürich GmbH\nLeopoldstraße 118\n80802 München\nGermany",
      habit="prompt", size=(400, 3200), gap=(26, 40)),
    C("C1035", "Boulangerie Lefèvre SARL", "compta@boulangerie-lefevre.example", "EUR", 45, "Hélène Lefèvre",
      "+33 4 55 50 21 87", "27 rue Mercière, 69002 Lyon, France", habit="script",
      notes="EUR; transit-damage credit note, pays in instalments"),
    C("C1036", "Van der Berg Horeca B.V.", "crediteuren@vanderberghoreca.example", "EUR", 30, "Pieter van der Berg",
      "+31 10 555 0193", "Wijnhaven 62, 3011 WS Rotterdam, Netherlands", habit="slow", size=(700, 4800),
      gap=(24, 36)),
    C("C1037", "Thistle & Rose Tearooms Ltd", "accounts@thistleandrose.example", "GBP", 30, "Fiona MacLeod",
      "+44 131 555 0166", "41 Victoria Street, Edinburgh EH1 2HE, United Kingdom", habit="paidup",
      size=(250, 1800), gap=(26, 36)),
    C("C1038", "Blackwell Provisions Ltd", "purchase.ledger@blackwellprovisions.example", "GBP", 30,
      "Oliver Blackwell", "+44 117 555 0121", "9 Welsh Back, Bristol BS1 4SP, United Kingdom",
      habit="partial", size=(500, 3500), gap=(22, 34)),
    C("C1039", "Sakura Trading K.K.", "keiri@sakuratrading.example", "JPY", 30, "Haruto Tanaka",
      "+81 6 5550 4412", "2-14-7 Minamisenba, Chuo-ku, Osaka 542-0081, Japan", habit="prompt",
      size=(60000, 480000), gap=(26, 38)),
    C("C1040", "Yamato Kitchenware Co., Ltd.", "ap@yamatokitchen.example", "JPY", 45, "Yui Kobayashi",
      "+81 3 5550 7789", "Yamato Kitchenware Co., Ltd.\n3-5-1 Kappabashi, Taito-ku\nTokyo 111-0036, Japan",
      habit="script", notes="JPY; credit note and part payments"),
]
BY_ID = {c.id: c for c in CUSTOMERS}


# --------------------------------------------------------------------------- entries

@dataclass
class Ev:
    """One ledger row before refs are assigned. `key` is local; `applies` names another key."""
    date: date
    cid: str
    type: str
    amount: Decimal | None  # None: decided while replaying (see Plan.kind)
    key: str
    due: date | None = None
    applies: str | None = None
    memo: str = ""
    method: str = ""  # payments: ach, card, check, wire
    kind: str = ""  # full, short, frac, lump, rest, dup
    frac: Decimal = ZERO
    cur: str = ""


ITEMS = [
    "takeout containers and lids", "paper goods, cutlery, napkins", "janitorial restock",
    "nitrile gloves and bin liners", "kitchen smallwares", "hot cups, sleeves and lids", "weekly restock",
    "sanitizer and floor care", "deli wrap and foil", "bakery boxes and liners", "fall menu changeover",
    "compostable bowls", "paper towels and tissue", "catering trays, 3 sizes", "restock after inventory count",
    "dish machine chemicals", "cleaning supplies", "coffee filters and stirrers", "linen and aprons",
    "storage containers, lids, labels",
]


def money(rng: random.Random, lo: int, hi: int, cur: str) -> Decimal:
    """A believable invoice amount between lo and hi major units (integers only, no floats)."""
    if cur == "JPY":
        return Decimal(rng.randint(lo // 100, hi // 100) * 100)  # whole yen, in hundreds
    return Decimal(rng.randint(lo * 100, hi * 100)) / 100


def round_down(amount: Decimal, step: int) -> Decimal:
    return (amount / step).to_integral_value(ROUND_DOWN) * step


class Book:
    """Collects one customer's events and replays them to size payments against what is owed."""

    def __init__(self, cust: Cust, rng: random.Random):
        self.c, self.rng, self.events, self.n = cust, rng, [], 0

    def key(self, prefix: str) -> str:
        self.n += 1
        return f"{self.c.id}:{prefix}{self.n}"

    def invoice(self, d: date, amount: Decimal, memo: str = "", due: date | None = None) -> str:
        k = self.key("i")
        if not memo:
            item = self.rng.choice(ITEMS)
            memo = f"Net {self.c.terms} — {item}" if self.c.terms else f"Contract billing — {item}"
        self.events.append(Ev(d, self.c.id, "invoice", amount, k, due=due, memo=memo))
        return k

    def pay(self, d, applies=None, amount=None, kind="full", frac=ZERO, method=None, memo="") -> str:
        k = self.key("p")
        method = method or self.method()
        self.events.append(Ev(d, self.c.id, "payment", amount, k, applies=applies, kind=kind, frac=frac,
                              method=method, memo=memo))
        return k

    def other(self, d, etype, amount=None, applies=None, memo="", kind="") -> str:
        k = self.key(etype[0])
        self.events.append(Ev(d, self.c.id, etype, amount, k, applies=applies, memo=memo, kind=kind))
        return k

    def method(self) -> str:
        if self.c.currency != "USD":
            return "wire"
        return self.rng.choices(["ach", "check", "card"], weights=[5, 3, 2])[0]

    def due_of(self, ev: Ev) -> date:
        return ev.due or ev.date + timedelta(days=self.c.terms)

    def replay(self) -> list[Ev]:
        """Decide the open amounts in date order; drop what falls after LAST or pays nothing."""
        cur = self.c.currency
        opened: dict[str, Decimal] = {}
        order: list[str] = []  # open items, oldest due first
        due: dict[str, date] = {}
        balance = ZERO
        out = []

        def take(amount: Decimal, first: str | None) -> None:
            """Reduce open items by amount: the named invoice first, then oldest due."""
            for k in ([first] if first else []) + sorted(order, key=lambda k: due[k]):
                if amount <= 0:
                    break
                used = min(amount, opened.get(k, ZERO))
                opened[k] = opened.get(k, ZERO) - used
                amount -= used

        for ev in sorted(self.events, key=lambda e: (e.date, e.type != "invoice")):
            if ev.date > LAST:
                continue
            if ev.type == "invoice" or (ev.type == "adjustment" and ev.amount > 0) or ev.type == "refund":
                if ev.type == "invoice":
                    opened[ev.key], due[ev.key] = ev.amount, self.due_of(ev)
                    order.append(ev.key)
                elif ev.type == "adjustment":
                    opened[ev.key], due[ev.key] = ev.amount, ev.date
                    order.append(ev.key)
                balance += ev.amount
                out.append(ev)
                continue
            if ev.type == "adjustment":  # negative
                take(-ev.amount, None)
                balance += ev.amount
                out.append(ev)
                continue
            target = opened.get(ev.applies, ZERO) if ev.applies else balance
            if ev.kind == "full" or ev.kind == "rest":
                amt = target
            elif ev.kind == "short":
                amt = target - ev.frac
            elif ev.kind == "frac":
                amt = q(target * ev.frac, cur)
                amt = round_down(amt, 1000) if cur == "JPY" else round_down(amt, 1) if amt > 50 else amt
            elif ev.kind == "lump":
                step = 10000 if cur == "JPY" else 100 if balance >= 300 else 10
                amt = round_down(balance * ev.frac, step)
            elif ev.kind == "dup":
                amt = ev.amount  # the deliberate overpayment: not capped
            else:
                amt = min(ev.amount, target)
            if ev.kind != "dup":
                amt = min(amt, balance)
            if amt <= 0:
                continue
            ev.amount = q(amt, cur)
            take(ev.amount, ev.applies)
            balance -= ev.amount
            out.append(ev)
        return out


def habit_book(c: Cust, rng: random.Random) -> Book:
    """Simulate a customer from its payment habit."""
    b = Book(c, rng)
    d = FIRST + timedelta(days=rng.randint(0, 20))
    last_invoice = date(2026, 11, 6) if c.habit == "paidup" else date(2026, 11, 20)
    if c.hold:
        last_invoice = min(last_invoice, c.hold)
    invoices = []
    while d <= last_invoice:
        explicit = None
        if c.habit != "stalled" and rng.random() < 0.15:  # some carry their own due date (extended terms)
            explicit = d + timedelta(days=c.terms + rng.choice((0, 15, 15, 30)))
        memo = ""
        if explicit and explicit != d + timedelta(days=c.terms):
            memo = f"PO {rng.randint(4100, 9899)}, extended terms — {rng.choice(ITEMS)}"
        k = b.invoice(d, money(rng, *c.size, c.currency), memo, explicit)
        invoices.append((k, d, explicit or d + timedelta(days=c.terms)))
        d += timedelta(days=rng.randint(*c.gap))
    if c.habit not in ("paidup", "stalled") and invoices[-1][1] < date(2026, 11, 1):
        d = date(2026, 11, rng.randint(3, 20))  # every active account has a November invoice
        invoices.append((b.invoice(d, money(rng, *c.size, c.currency)), d, d + timedelta(days=c.terms)))
    if c.habit == "lump":
        # pays round sums on account (no invoice named) every few weeks
        p = invoices[0][1] + timedelta(days=rng.randint(18, 30))
        while p <= LAST:
            b.pay(p, kind="lump", frac=Decimal(rng.randint(55, 95)) / 100,
                  memo=rng.choice(["Payment on account", "On account, see remittance", "ACH remittance"]))
            p += timedelta(days=rng.randint(24, 38))
        return b
    for k, inv_date, due in invoices:
        if c.habit == "prompt":
            b.pay(max(inv_date + timedelta(days=2), due + timedelta(days=rng.randint(-8, 4))), k)
        elif c.habit == "paidup":
            b.pay(min(LAST, inv_date + timedelta(days=rng.randint(4, max(5, c.terms - 2)))), k)
        elif c.habit == "slow":
            b.pay(due + timedelta(days=rng.randint(18, 44)), k)
        elif c.habit == "partial":
            first = due + timedelta(days=rng.randint(-3, 10))
            if rng.random() < 0.6:
                b.pay(first, k, kind="frac", frac=Decimal(rng.choice((40, 50, 50, 60))) / 100,
                      memo="Partial payment")
                b.pay(first + timedelta(days=rng.randint(21, 40)), k, memo="Balance of invoice")
            else:
                b.pay(first, k)
        elif c.habit == "stalled" and inv_date <= c.stop:
            b.pay(due + timedelta(days=rng.randint(-2, 12)), k)
    if c.habit == "stalled":  # one token payment on account after the hold, then silence
        b.pay(c.hold + timedelta(days=rng.randint(10, 25)), kind="lump", frac=Decimal("0.2"),
              memo="Partial payment — promised balance by month end")
    return b


def scripted_books(rng: random.Random) -> list[Book]:
    D = date
    books = []

    # C1002 O'Brien & Daughters: damaged pallet credited, invoices paid in instalments.
    b = Book(BY_ID["C1002"], rng)
    i1 = b.invoice(D(2026, 6, 17), Decimal("1862.40"), "Net 30 — bakery boxes, liners, parchment")
    b.pay(D(2026, 7, 16), i1, method="check")
    i2 = b.invoice(D(2026, 7, 8), Decimal("2315.75"), "Net 30 — summer restock, boxes and cups")
    b.other(D(2026, 7, 13), "credit", Decimal("286.20"), i2, "Damaged pallet credit — crushed cake boxes")
    b.pay(D(2026, 8, 7), i2, kind="frac", frac=Decimal("0.5"), memo="Partial payment, rest to follow")
    b.pay(D(2026, 8, 28), i2, memo="Balance of invoice")
    i3 = b.invoice(D(2026, 8, 12), Decimal("1490.00"), "Net 30 — bakery boxes and liners")
    b.pay(D(2026, 9, 14), i3, Decimal("700.00"), kind="fixed", memo="Partial payment")
    i4 = b.invoice(D(2026, 9, 9), Decimal("2048.65"), "Net 30 — fall menu changeover")
    b.pay(D(2026, 10, 9), None, Decimal("1500.00"), kind="fixed", method="ach", memo="ACH remittance, on account")
    i5 = b.invoice(D(2026, 10, 14), Decimal("1730.10"), "Net 30 — holiday boxes, ribbon, labels")
    b.pay(D(2026, 11, 12), None, Decimal("1200.00"), kind="fixed", method="check", memo="Payment on account")
    b.invoice(D(2026, 11, 11), Decimal("2264.30"), "Net 30 — holiday restock, bakery boxes")
    books.append(b)

    # C1006 Grand Meridian: contract account, no terms_days, due the 20th of the following month.
    b = Book(BY_ID["C1006"], rng)
    d = D(2026, 6, 30)
    for n, amt in enumerate(("8412.60", "9135.25", "7768.90", "10254.40", "9680.15")):
        due = D(d.year + d.month // 12, d.month % 12 + 1, 20)
        k = b.invoice(d, Decimal(amt), f"Monthly contract billing — {d:%B} deliveries, 4 properties", due)
        b.pay(due + timedelta(days=(-3, 6, 2, 0, 8)[n]), k, method="ach", memo="ACH — AP run")  # Oct: late
        d = (D(d.year, d.month + 1, 28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)  # month end
    k = b.invoice(D(2026, 9, 18), Decimal("1840.00"), "Banquet supplies, rush order — PO GM-7781, due on receipt",
                  D(2026, 9, 25))
    b.pay(D(2026, 10, 2), k, method="card", memo="Card payment")
    b.invoice(D(2026, 11, 13), Decimal("2316.80"), "Holiday banquet linens and chafing fuel — PO GM-8120",
              D(2026, 12, 20))
    books.append(b)

    # C1007 Lakeside Deli: paid the September invoice twice (ACH, then a check); we refunded part
    # of the overpayment, the rest stays on account and covers the November invoice.
    b = Book(BY_ID["C1007"], rng)
    i1 = b.invoice(D(2026, 6, 18), Decimal("1126.40"), "Net 30 — deli wrap, foil, containers")
    b.pay(D(2026, 7, 16), i1, method="ach", memo="ACH remittance")
    i2 = b.invoice(D(2026, 7, 9), Decimal("864.15"), "Net 30 — catering trays, 3 sizes")
    b.pay(D(2026, 8, 7), i2, method="ach", memo="ACH remittance")
    i3 = b.invoice(D(2026, 8, 6), Decimal("1318.90"), "Net 30 — summer catering season restock")
    b.pay(D(2026, 9, 4), i3, method="ach", memo="ACH remittance")
    i4 = b.invoice(D(2026, 9, 3), Decimal("2480.00"), "Net 30 — chafing fuel, trays, lids, napkins")
    b.pay(D(2026, 10, 2), i4, method="ach", memo="ACH remittance")
    b.invoice(D(2026, 10, 1), Decimal("745.30"), "Net 30 — deli wrap and foil")
    dup = b.pay(D(2026, 10, 5), i4, Decimal("2480.00"), kind="dup", method="check",
                memo="Duplicate payment of INV already paid by ACH 10/02")
    b.other(D(2026, 10, 21), "refund", Decimal("1000.00"), dup,
            "Refund of part of duplicate payment, rest kept on account at customer's request")
    b.invoice(D(2026, 11, 5), Decimal("412.85"), "Net 30 — holiday party trays")
    books.append(b)

    # C1008 Two Rivers Brewing: paid June, nothing since but one small payment; on credit hold.
    b = Book(BY_ID["C1008"], rng)
    i1 = b.invoice(D(2026, 6, 20), Decimal("2210.35"), "Net 30 — taproom cups, lids, napkins")
    b.pay(D(2026, 7, 22), i1, method="check", memo="Check — thank you")
    b.invoice(D(2026, 7, 8), Decimal("3145.80"), "Net 30 — summer festival cups and trays")
    b.invoice(D(2026, 7, 27), Decimal("1968.20"), "Net 30 — growler boxes, tape, labels")
    b.invoice(D(2026, 8, 14), Decimal("2587.45"), "Net 30 — sanitizer, floor care, bin liners")
    b.pay(D(2026, 9, 12), None, Decimal("500.00"), kind="fixed", method="card",
          memo="Partial payment — owner promised balance by month end")
    books.append(b)

    # C1013 Saltwater Taco: one invoice short-paid by 18.75 (bank fee) and written off.
    b = Book(BY_ID["C1013"], rng)
    i1 = b.invoice(D(2026, 6, 24), Decimal("846.20"), "Net 30 — takeout containers and lids")
    b.pay(D(2026, 7, 22), i1, method="ach", memo="ACH remittance")
    i2 = b.invoice(D(2026, 7, 14), Decimal("1247.60"), "Net 30 — compostable bowls, forks, napkins")
    b.pay(D(2026, 8, 20), i2, kind="short", frac=Decimal("18.75"), method="wire",
          memo="Wire, short-paid by sender's bank fee")
    b.other(D(2026, 9, 30), "writeoff", None, i2, "Short payment under $25, written off", kind="rest")
    i3 = b.invoice(D(2026, 8, 18), Decimal("932.45"), "Net 30 — hot sauce cups, lids, foil")
    b.pay(D(2026, 9, 16), i3, method="ach", memo="ACH remittance")
    i4 = b.invoice(D(2026, 9, 22), Decimal("1105.10"), "Net 30 — fall restock")
    b.pay(D(2026, 10, 21), i4, method="ach", memo="ACH remittance")
    i5 = b.invoice(D(2026, 10, 20), Decimal("988.75"), "Net 30 — takeout containers and lids")
    b.pay(D(2026, 11, 18), i5, method="card", memo="Card payment")
    b.invoice(D(2026, 11, 17), Decimal("1064.30"), "Net 30 — holiday catering containers")
    books.append(b)

    # C1016 Fenwick Janitorial: partial payments; freight missed on an invoice re-billed.
    b = Book(BY_ID["C1016"], rng)
    i1 = b.invoice(D(2026, 6, 26), Decimal("3418.90"), "Net 30 — sanitizer and floor care, 2 pallets")
    b.pay(D(2026, 7, 27), i1, kind="frac", frac=Decimal("0.6"), method="check", memo="Partial payment")
    b.pay(D(2026, 8, 19), i1, method="check", memo="Balance of invoice")
    i2 = b.invoice(D(2026, 7, 24), Decimal("2975.40"), "Net 30 — paper towels, tissue, bin liners")
    b.other(D(2026, 8, 4), "adjustment", Decimal("86.50"), None,
            "Freight re-bill, July delivery (missed on invoice)")
    b.pay(D(2026, 8, 31), i2, Decimal("1487.70"), kind="fixed", method="check", memo="Partial payment, half")
    b.pay(D(2026, 9, 25), None, Decimal("1574.20"), kind="fixed", method="ach",
          memo="ACH — balance of July invoice and freight")
    i3 = b.invoice(D(2026, 8, 28), Decimal("3620.15"), "Net 30 — janitorial restock, gloves, liners")
    b.pay(D(2026, 10, 9), i3, Decimal("2000.00"), kind="fixed", method="check", memo="Partial payment")
    i4 = b.invoice(D(2026, 9, 29), Decimal("2789.60"), "Net 30 — cleaning supplies, floor pads")
    b.pay(D(2026, 11, 6), None, Decimal("2400.00"), kind="fixed", method="check", memo="Payment on account")
    b.invoice(D(2026, 10, 27), Decimal("3312.85"), "Net 30 — winter salt, mats, floor care")
    b.invoice(D(2026, 11, 19), Decimal("1895.25"), "Net 30 — paper goods restock")
    books.append(b)

    # C1017 Harvest Table: returned goods credited; cups billed above contract price corrected.
    b = Book(BY_ID["C1017"], rng)
    i1 = b.invoice(D(2026, 6, 22), Decimal("5610.80"), "Net 45 — 3 restaurants, summer restock")
    b.pay(D(2026, 8, 5), i1, method="ach", memo="ACH remittance")
    i2 = b.invoice(D(2026, 7, 20), Decimal("4875.35"), "Net 45 — hot cups, sleeves and lids")
    b.other(D(2026, 7, 29), "credit", Decimal("412.50"), i2, "Returned goods — 11 cases of 12 oz cups, wrong size")
    b.pay(D(2026, 9, 2), i2, method="ach", memo="ACH remittance")
    i3 = b.invoice(D(2026, 8, 24), Decimal("6240.00"), "Net 45 — kitchen smallwares, 3 sites")
    b.other(D(2026, 9, 10), "adjustment", Decimal("-62.40"), None,
            "Pricing correction — cups billed above contract rate in August")
    b.pay(D(2026, 10, 8), i3, method="ach", memo="ACH remittance")
    i4 = b.invoice(D(2026, 9, 21), Decimal("5195.45"), "Net 45 — fall menu changeover")
    b.pay(D(2026, 11, 4), i4, method="ach", memo="ACH remittance")
    i5 = b.invoice(D(2026, 10, 19), Decimal("4988.10"), "Net 45 — catering trays, 3 sizes")
    b.other(D(2026, 10, 30), "credit", Decimal("148.00"), i5, "Missing carton on delivery, credited")
    b.invoice(D(2026, 11, 16), Decimal("5362.75"), "Net 45 — holiday restock, 3 restaurants")
    books.append(b)

    # C1018 Old Port Coffee Roasters: fully paid up; one invoice settled partly by a credit note.
    b = Book(BY_ID["C1018"], rng)
    for n, (d, amt) in enumerate(((D(2026, 6, 16), "1284.60"), (D(2026, 7, 15), "1452.25"),
                                  (D(2026, 8, 13), "1175.90"), (D(2026, 9, 15), "1633.40"),
                                  (D(2026, 10, 14), "1398.05"), (D(2026, 11, 4), "1520.70"))):
        what = ("coffee filters and stirrers", "hot cups, sleeves and lids")[n % 2]
        k = b.invoice(d, Decimal(amt), "Net 30 — " + what)
        if n == 3:
            b.other(d + timedelta(days=6), "credit", Decimal("96.00"), k, "Credit — 4 cases of lids short-shipped")
        b.pay(d + timedelta(days=(26, 24, 27, 22, 20, 14)[n]), k, method=("ach", "check")[n % 2],
              memo=("ACH remittance", "Check — mailed to lockbox")[n % 2])
    books.append(b)

    # C1035 Boulangerie Lefèvre (EUR): transit damage credited, instalments, some paid in EUR explicitly.
    b = Book(BY_ID["C1035"], rng)
    i1 = b.invoice(D(2026, 6, 29), Decimal("2480.00"), "Net 45 — boîtes à gâteaux, bakery boxes")
    b.pay(D(2026, 8, 12), i1, method="wire", memo="SEPA transfer")
    i2 = b.invoice(D(2026, 7, 31), Decimal("3125.60"), "Net 45 — bakery boxes and liners")
    b.other(D(2026, 8, 11), "credit", Decimal("340.00"), i2, "Damaged in transit — 2 cartons, credited")
    b.pay(D(2026, 9, 15), i2, Decimal("1500.00"), kind="fixed", method="wire", memo="SEPA transfer, part payment")
    b.pay(D(2026, 10, 6), i2, method="wire", memo="SEPA transfer, balance")
    i3 = b.invoice(D(2026, 9, 4), Decimal("2766.30"), "Net 45 — fall restock, parchment, liners")
    b.pay(D(2026, 10, 30), i3, Decimal("1400.00"), kind="fixed", method="wire", memo="SEPA transfer, part payment")
    b.invoice(D(2026, 10, 9), Decimal("2984.15"), "Net 45 — holiday boxes, ribbon")
    b.invoice(D(2026, 11, 13), Decimal("1870.40"), "Net 45 — bakery boxes and liners")
    books.append(b)

    # C1040 Yamato Kitchenware (JPY, whole yen): credit note and part payments.
    b = Book(BY_ID["C1040"], rng)
    i1 = b.invoice(D(2026, 6, 25), Decimal("184000"), "Net 45 — stainless prep pans")
    b.pay(D(2026, 8, 7), i1, method="wire", memo="Bank transfer (furikomi)")
    i2 = b.invoice(D(2026, 7, 28), Decimal("1250000"), "Net 45 — commercial knives and smallwares")
    b.other(D(2026, 8, 6), "credit", Decimal("96000"), i2, "Credit — 8 boxed knife sets returned, wrong model")
    b.pay(D(2026, 9, 11), i2, Decimal("600000"), kind="fixed", method="wire", memo="Bank transfer, part payment")
    b.pay(D(2026, 10, 2), i2, method="wire", memo="Bank transfer, balance")
    i3 = b.invoice(D(2026, 9, 8), Decimal("426500"), "Net 45 — sheet pans and racks")
    b.pay(D(2026, 10, 26), i3, method="wire", memo="Bank transfer (furikomi)")
    b.invoice(D(2026, 10, 15), Decimal("738200"), "Net 45 — holiday smallwares order")
    b.invoice(D(2026, 11, 12), Decimal("312400"), "Net 45 — storage containers, lids, labels")
    books.append(b)
    return books


# --------------------------------------------------------------------------- writing

def fmt_amount(amount: Decimal, cur: str, rng: random.Random) -> str:
    places = MINOR[cur]
    text = f"{amount:.{places}f}"
    if abs(amount) >= 1000 and rng.random() < 0.4:  # as some exports write it: "1,234.50"
        text = f"{amount:,.{places}f}"
    return text


def generate() -> None:
    rng = random.Random(SEED)
    books = {b.c.id: b for b in scripted_books(rng)}
    for c in CUSTOMERS:
        if c.habit != "script":
            books[c.id] = habit_book(c, rng)
    events = [ev for c in CUSTOMERS for ev in books[c.id].replay()]
    rank = {"invoice": 0, "adjustment": 1, "credit": 2, "payment": 3, "writeoff": 4, "refund": 5}
    events.sort(key=lambda e: (e.date, e.cid, rank[e.type], e.key))

    # refs, in date order across the whole ledger
    counters: dict[str, int] = defaultdict(int)
    check_no = {c.id: rng.randint(1040, 9870) for c in CUSTOMERS}
    ref: dict[str, str] = {}
    for ev in events:
        if ev.type == "payment" and ev.method == "check":
            check_no[ev.cid] += rng.randint(1, 9)
            ref[ev.key] = f"CHK-{check_no[ev.cid]}"
            continue
        prefix = {"invoice": "INV", "credit": "CN", "payment": "PAY", "refund": "RF", "adjustment": "ADJ",
                  "writeoff": "WO"}[ev.type]
        counters[prefix] += 1
        width = 5 if prefix == "PAY" else 4
        ref[ev.key] = f"{prefix}-26-{counters[prefix]:0{width}d}"

    rows_by_file: dict[str, list[list[str]]] = {m: [] for m in MONTHS}
    for ev in events:
        c = BY_ID[ev.cid]
        cur = c.currency
        # an empty currency means the customer's own; some exports spell it out anyway
        shown_cur = cur if rng.random() < (0.45 if cur != "USD" else 0.08) else ""
        memo = ev.memo
        if ev.type == "payment" and not memo:
            memo = {"ach": "ACH remittance", "card": "Card payment", "wire": "Wire transfer received",
                    "check": "Check — mailed to lockbox"}[ev.method]
        if ev.type == "payment" and ev.method == "check" and "Check" in memo:
            memo = memo.replace("Check", f"Check #{ref[ev.key][4:]}", 1)
        memo = memo.replace("INV already", f"{ref.get(ev.applies, '')} already")
        month = max(f"{ev.date:%Y-%m}", MONTHS[0])  # June items went out with the July export
        rows_by_file[month].append([
            ev.date.isoformat(), ev.cid, ev.type, ref[ev.key], fmt_amount(ev.amount, cur, rng), shown_cur,
            ev.due.isoformat() if ev.due else "", ref[ev.applies] if ev.applies else "", memo,
        ])

    LEDGER.mkdir(parents=True, exist_ok=True)
    with open(LEDGER / "customers.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(CUSTOMER_HEADER)
        for c in CUSTOMERS:
            w.writerow([c.id, c.name, c.email, c.currency, "" if c.terms is None else c.terms, c.contact,
                        c.phone, c.address, c.link_version])
    for month, rows in rows_by_file.items():
        with open(LEDGER / f"{month}.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(ENTRY_HEADER)
            w.writerows(rows)
    print(f"wrote {LEDGER}/customers.csv ({len(CUSTOMERS)} customers) and "
          + ", ".join(f"{m}.csv ({len(r)} rows)" for m, r in rows_by_file.items())
          + f"; {len(events)} entry rows")


# --------------------------------------------------------------------------- checking

def parse_amount(text: str) -> Decimal:
    s = text.strip().replace(",", "")
    return Decimal(s)


def check(as_of: date) -> int:
    """Read the CSVs back, validate them, and print each customer's balance per currency."""
    problems: list[str] = []
    with open(LEDGER / "customers.csv", encoding="utf-8", newline="") as f:
        customers = {r["customer_id"]: r for r in csv.DictReader(f)}
    entries = []
    for path in sorted(LEDGER.glob("*.csv")):
        if path.name == "customers.csv":
            continue
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames != ENTRY_HEADER:
                problems.append(f"{path.name}: header {reader.fieldnames}")
            for n, r in enumerate(reader, 2):
                r["where"] = f"{path.name}:{n}"
                entries.append(r)

    invoices: dict[str, dict] = {}
    refs: dict[tuple[str, str], str] = {}
    for r in entries:
        where, cid = r["where"], r["customer_id"]
        c = customers.get(cid)
        if c is None:
            problems.append(f"{where}: unknown customer {cid}")
            continue
        try:
            r["d"] = date.fromisoformat(r["date"])
            r["due"] = date.fromisoformat(r["due_date"]) if r["due_date"] else None
        except ValueError:
            problems.append(f"{where}: bad date {r['date']!r} or due date {r['due_date']!r}")
            continue
        if len(r["date"]) != 10 or not FIRST <= r["d"] <= LAST:
            problems.append(f"{where}: date {r['date']} outside {FIRST}..{LAST}")
        r["cur"] = r["currency"] or c["currency"]
        r["amt"] = parse_amount(r["amount"])
        if r["amt"] != q(r["amt"], r["cur"]):
            problems.append(f"{where}: amount {r['amount']} has more places than {r['cur']} allows")
        if r["amt"] <= 0 and r["type"] != "adjustment":
            problems.append(f"{where}: non-positive {r['type']} amount {r['amount']}")
        if r["type"] == "invoice":
            if r["ref"] in invoices:
                problems.append(f"{where}: duplicate invoice ref {r['ref']}")
            invoices[r["ref"]] = r
            if not r["due"] and not c["terms_days"]:
                problems.append(f"{where}: invoice without due date for a customer without terms")
            if r["due"] and r["due"] < r["d"]:
                problems.append(f"{where}: due date before invoice date")
        elif r["type"] not in ("credit", "payment", "refund", "adjustment", "writeoff"):
            problems.append(f"{where}: unknown type {r['type']}")
        if r["type"] != "invoice":
            if (r["type"], r["ref"]) in refs:
                problems.append(f"{where}: {r['type']} ref {r['ref']} reused (first {refs[r['type'], r['ref']]})")
            refs[r["type"], r["ref"]] = where
    for r in entries:
        if "amt" not in r or not r["applies_to"]:
            continue
        if r["type"] == "refund":
            if (("payment", r["applies_to"]) not in refs) and (("credit", r["applies_to"]) not in refs):
                problems.append(f"{r['where']}: refund applies to unknown payment {r['applies_to']}")
            continue
        inv = invoices.get(r["applies_to"])
        if inv is None:
            problems.append(f"{r['where']}: applies_to unknown invoice {r['applies_to']}")
        elif inv["customer_id"] != r["customer_id"] or inv["cur"] != r["cur"]:
            problems.append(f"{r['where']}: applies_to {r['applies_to']} of {inv['customer_id']} in {inv['cur']}")
        elif r["d"] < inv["d"]:
            problems.append(f"{r['where']}: dated before the invoice it applies to")

    # per customer and currency: balance, running low point, payments above what was owed, aging
    accounts: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in entries:
        if "amt" in r:
            accounts[r["customer_id"], r["cur"]].append(r)
    rank = {"invoice": 0, "adjustment": 1, "refund": 1, "credit": 2, "payment": 3, "writeoff": 4}
    overpaid = []
    table = []
    for (cid, cur), rows in sorted(accounts.items()):
        rows.sort(key=lambda r: (r["d"], rank[r["type"]]))
        c = customers[cid]
        debit = credit = running = ZERO
        low = (ZERO, None)
        for r in rows:
            if r["type"] in ("invoice", "refund") or (r["type"] == "adjustment" and r["amt"] > 0):
                amount = r["amt"]
                debit += amount
            else:
                amount = -abs(r["amt"])
                credit += -amount
                if r["type"] == "payment" and r["amt"] > running:
                    overpaid.append(f"{r['where']}: {cid} paid {r['amt']} {cur} owing {running}")
            running += amount
            if running < low[0]:
                low = (running, r["d"])
        balance = debit - credit
        assert balance == running
        table.append((cid, c["name"], cur, len(rows), debit, credit, balance, low,
                      aging([r for r in rows if r["d"] <= as_of], c, as_of)))

    for p in problems:
        print("PROBLEM", p)
    print(f"{len(customers)} customers, {len(entries)} entry rows, {len(invoices)} invoices; "
          f"balances as of {as_of}")
    print("payments larger than the balance owed at the time (expected: the one deliberate overpayment):")
    for o in overpaid or ["  none"]:
        print("  " + o)
    head = f"{'id':5} {'name':32} {'cur':3} {'rows':>4} {'debits':>12} {'credits':>12} {'balance':>11} " \
           f"{'low point':>20} {'current':>10} {'1-30':>10} {'31-60':>10} {'61-90':>10} {'90+':>10} {'unapplied':>9}"
    print(head)
    print("-" * len(head))
    for cid, name, cur, n, debit, credit, balance, low, (buckets, unapplied) in table:
        lowtxt = f"{low[0]} on {low[1]:%m-%d}" if low[1] else ""
        print(f"{cid:5} {name[:32]:32} {cur:3} {n:>4} {debit:>12,} {credit:>12,} {balance:>11,} {lowtxt:>20} "
              + " ".join(f"{q(v, cur):>10,}" for v in buckets.values()) + f" {q(unapplied, cur):>9,}")
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO])
    for _, _, cur, _, debit, credit, balance, _, _ in table:
        t = totals[cur]
        t[0], t[1], t[2] = t[0] + debit, t[1] + credit, t[2] + balance
    for cur, (debit, credit, balance) in sorted(totals.items()):
        print(f"{'total':38} {cur:3} {'':>4} {debit:>12,} {credit:>12,} {balance:>11,}")
    zero = [cid for cid, _, _, _, _, _, b, _, _ in table if b == 0]
    print(f"paid up (balance exactly zero): {', '.join(zero)}")
    return 1 if problems else 0


def aging(rows: list[dict], c: dict, as_of: date):
    """The portal's allocation: named invoices first, the rest oldest-due first; then age."""
    items, by_ref, pool, explicit = [], {}, ZERO, []
    for r in rows:
        if r["type"] in ("invoice", "refund") or (r["type"] == "adjustment" and r["amt"] > 0):
            due = r["due"] or (r["d"] + timedelta(days=int(c["terms_days"])) if r["type"] == "invoice" else r["d"])
            item = {"due": due, "open": r["amt"], "d": r["d"]}
            items.append(item)
            if r["type"] == "invoice":
                by_ref[r["ref"]] = item
        elif r["applies_to"] and r["type"] != "adjustment" and r["type"] != "refund":
            explicit.append(r)
        else:
            pool += abs(r["amt"])
    for r in explicit:
        item, amount = by_ref.get(r["applies_to"]), r["amt"]
        if item:
            used = min(amount, item["open"])
            item["open"] -= used
            amount -= used
        pool += amount
    buckets = {"current": ZERO, "1-30": ZERO, "31-60": ZERO, "61-90": ZERO, "90+": ZERO}
    for item in sorted(items, key=lambda i: (i["due"], i["d"])):
        used = min(pool, item["open"])
        item["open"] -= used
        pool -= used
        days = (as_of - item["due"]).days
        key = ("current" if days <= 0 else "1-30" if days <= 30 else "31-60" if days <= 60
               else "61-90" if days <= 90 else "90+")
        buckets[key] += item["open"]
    return buckets, pool


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="validate the written CSVs and print balances")
    ap.add_argument("--as-of", type=date.fromisoformat, default=AS_OF, help="aging date for --check")
    args = ap.parse_args(argv)
    if args.check:
        return check(args.as_of)
    generate()
    return check(args.as_of)


if __name__ == "__main__":
    sys.exit(main())
