"""Import profiles: the shape of an accounting product's export, and the presets for the exports staff make.

A profile names, for each of our fields, the export's column; says how its dates are written,
which statuses are not owed, which document types are credit notes, and which columns key one
document when the export has a row per invoice line. Pure data: convert.py reads with it.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any

# Our fields, as a profile maps them to an export's columns.
FIELDS = {
    "customer": "the customer's name",
    "customer_id": "the customer's account id (when the export has one; else one is made from the name)",
    "email": "the customer's email address",
    "number": "the invoice or credit note number",
    "document": "what keys one document over several rows (an id column; else `number` with `type`)",
    "type": "the document type (invoice, credit note)",
    "status": "the document status (Paid, Draft, Void, …)",
    "date": "the document date",
    "due_date": "the due date",
    "terms": "the payment terms (\"Net 30\", \"30\", \"Due on receipt\")",
    "total": "the document total",
    "debit": "a journal line's debit (with `credit`: the amount is debit less credit)",
    "credit": "a journal line's credit",
    "line_total": "a line's total, summed over the document's lines (an export with no document total)",
    "paid": "the part of the total paid",
    "balance": "what is still open of the total",
    "paid_date": "the date of the last payment",
    "currency": "the currency (ISO 4217)",
    "memo": "a description",
}
REQUIRED = ("customer", "number", "date")  # and a total: "total", or "line_total" summed


@dataclass(frozen=True)
class Profile:
    name: str  # the preset's name, as `preset = "…"` names it
    title: str  # the product and its export, for people
    columns: dict[str, str]  # our field -> the export's header
    date_format: str
    not_owed: frozenset[str] = frozenset()  # statuses of documents that are not owed (draft, void, deleted)
    paid: frozenset[str] = frozenset()  # statuses of documents paid in full (an export with no paid or balance)
    partial: frozenset[str] = frozenset()  # statuses of documents paid in part, by how much the export does not say
    # document types that are credit, and which of ours each is: "credit" (a credit note) or "payment"
    credit_types: dict[str, str] = field(default_factory=dict)
    invoice_types: frozenset[str] = frozenset()  # document types that are invoices (empty: every row is one)
    lines: bool = False  # a row per invoice line: rows of one document are taken together, their totals once
    skip: dict[str, frozenset[str]] = field(default_factory=dict)  # another column's values of documents not owed
    keep: dict[str, frozenset[str]] = field(default_factory=dict)  # only rows with these values (a journal's A/R lines)
    customer_sections: bool = False  # the customer is named in a heading row above their documents
    negative: str = ""  # a negative amount with no credit type is this of ours ("credit" or "payment")
    negative_names_invoice: bool = False  # and it pays the invoice whose number it carries
    not_data: frozenset[str] = frozenset()  # first cells of a report's other rows ("Percentage of total")
    terms_days: int | None = None  # when a document has no due date and no terms: due this many days after its date
    how: str = ""  # where in the product the export is made
    notes: tuple[str, ...] = field(default_factory=tuple)  # what is and is not read


PRESETS = {p.name: p for p in (
    Profile(
        name="quickbooks-invoice-list", title="QuickBooks Online: Invoice List report",
        columns={"date": "Date", "number": "Num", "customer": "Customer full name", "memo": "Memo/Description",
                 "due_date": "Due date", "terms": "Terms", "total": "Amount", "balance": "Open balance"},
        date_format="%m/%d/%Y",
        how="Reports > Invoice List, set the dates, Export > Export to CSV",
        notes=("a snapshot: what is open on the day the report was run (Open balance); the paid part of each "
               "invoice is shown as a payment on it", "the report has no currency column: amounts are in "
               "[portal] currency", "title rows, TOTAL and the footer are skipped; a voided invoice (0.00) "
               "is not owed", "no emails: reminders list those customers until a customers.csv gives them")),
    Profile(
        name="xero-invoices", title="Xero: Invoices export",
        columns={"customer": "ContactName", "email": "EmailAddress", "number": "InvoiceNumber", "memo": "Reference",
                 "date": "InvoiceDate", "due_date": "DueDate", "total": "Total", "paid": "InvoiceAmountPaid",
                 "balance": "InvoiceAmountDue", "currency": "Currency", "type": "Type", "status": "Status"},
        date_format="%d/%m/%Y", lines=True,
        not_owed=frozenset({"Draft", "Awaiting Approval", "Voided", "Deleted"}),
        credit_types={"Sales credit note": "credit"}, invoice_types=frozenset({"Sales invoice"}),
        how="Business > Invoices, select the invoices (All), Export (CSV)",
        notes=("a row per invoice line: each invoice's Total and InvoiceAmountDue are taken once",
               "dates dd/mm/yyyy (a UK organisation; change `date_format` for another)",
               "Draft, Awaiting Approval, Voided and Deleted are not owed; a credit note's amount still due is "
               "credit that names no invoice")),
    Profile(
        name="zoho-invoices", title="Zoho Books: Invoices export",
        columns={"date": "Invoice Date", "document": "Invoice ID", "number": "Invoice Number",
                 "status": "Invoice Status", "customer": "Customer Name", "customer_id": "Customer ID",
                 "due_date": "Due Date", "currency": "Currency Code", "total": "Total", "balance": "Balance",
                 "terms": "Payment Terms", "paid_date": "Last Payment Date"},
        date_format="%Y-%m-%d", lines=True, not_owed=frozenset({"Draft", "Void"}),
        how="Sales > Invoices, the menu at the top right, Export Invoices (CSV)",
        notes=("a row per invoice line, keyed by Invoice ID: Total and Balance are taken once",
               "Draft and Void are not owed; the payment is dated from Last Payment Date")),
    Profile(
        name="quickbooks-ar-aging-detail", title="QuickBooks Online: A/R Aging Detail report",
        columns={"date": "Date", "type": "Transaction type", "number": "Num", "customer": "Customer full name",
                 "due_date": "Due date", "total": "Amount", "balance": "Open balance"},
        date_format="%m/%d/%Y", invoice_types=frozenset({"Invoice"}),
        credit_types={"Credit Memo": "credit", "Payment": "payment"},
        how="Reports > A/R Aging Detail, Export > Export to CSV",
        notes=("a snapshot of what is open on the report's day; the report's buckets are not used: items are "
               "aged again from their due dates", "a credit memo's or payment's open balance (negative) is "
               "credit that names no invoice: it pays the oldest-due items first",
               "bucket headings, Total for … rows, TOTAL and the footer are skipped; amounts in [portal] currency")),
    Profile(
        name="freshbooks-invoice-details", title="FreshBooks: Invoice Details report",
        columns={"customer": "Client Name", "number": "Invoice #", "date": "Date Issued", "status": "Invoice Status",
                 "paid_date": "Date Paid", "line_total": "Line Total", "currency": "Currency"},
        date_format="%Y-%m-%d", lines=True, not_owed=frozenset({"draft"}), paid=frozenset({"paid", "auto-paid"}),
        partial=frozenset({"partial"}), terms_days=30,
        how="Reports > Invoice Details, Export > CSV",
        notes=("a row per invoice line: the invoice's total is the sum of its Line Total",
               "no due date: due 30 days after Date Issued", "no paid or balance column: paid and auto-paid are "
               "paid in full (on Date Paid), partial is counted fully open with a warning; draft is not owed")),
    Profile(
        name="invoice2go-invoices", title="Invoice2go: invoices export",
        columns={"date": "DocumentDate", "number": "DocumentNumber", "customer": "Name", "email": "EmailRecipient",
                 "status": "DocumentStatus", "terms": "TermsOld", "currency": "CurrencyCode", "total": "TotalAmount",
                 "balance": "BalanceDueAmount", "paid": "AmountPaidAmount", "paid_date": "DatePaid"},
        date_format="%Y-%m-%d", not_owed=frozenset({"unsent"}), skip={"State": frozenset({"deleted"})},
        how="Settings > Export data > Invoices (CSV)",
        notes=("due TermsOld days after DocumentDate", "unsent documents and those whose State is deleted are not "
               "owed; the items, taxes and payments embedded in cells are not read")),
    Profile(
        name="sage-customer-transactions", title="Sage Accounting: customer transactions (activity)",
        columns={"customer_id": "A/C", "customer": "Name", "document": "No", "type": "Type", "date": "Date",
                 "due_date": "Due on", "number": "Ref", "memo": "Details", "total": "Amount", "balance": "O/S"},
        date_format="%d/%m/%Y", invoice_types=frozenset({"SI"}),
        credit_types={"SC": "credit", "SR": "payment", "SA": "payment"},
        how="Contacts > the customer list, Activity, Export (CSV); or Reports > Customer Activity",
        notes=("O/S is what is still outstanding of each transaction: an invoice's (SI) unpaid part; a credit "
               "note's (SC) or receipt's (SR, SA) unallocated part is credit naming no invoice",
               "no currency column: amounts are in [portal] currency; give a foreign-currency customer its "
               "currency in a customers.csv (A/C is the customer id)", "dates dd/mm/yyyy")),
    Profile(
        name="quickbooks-transaction-list-by-customer", title="QuickBooks Online: Transaction List by Customer report",
        columns={"date": "Date", "type": "Transaction type", "number": "Num", "memo": "Memo/Description",
                 "due_date": "Due date", "total": "Amount"},
        date_format="%m/%d/%Y", customer_sections=True, skip={"Posting": frozenset({"No"})}, terms_days=0,
        invoice_types=frozenset({"Invoice"}), credit_types={"Payment": "payment", "Credit Memo": "credit"},
        how="Reports > Transaction List by Customer, add the Due date column, Export > Export to CSV",
        notes=("a ledger: every invoice, payment and credit memo at its date, so statements can be as of any day",
               "the customer is the heading above their rows; Posting = No rows (estimates) are skipped",
               "payments name no invoice: they pay the oldest-due first; an invoice with no due date is due on "
               "its date; amounts in [portal] currency")),
    Profile(
        name="wave-account-transactions", title="Wave: accounting data export (account transactions)",
        columns={"document": "Transaction ID", "date": "Transaction Date", "customer": "Customer",
                 "number": "Invoice Number", "total": "Amount (One column)", "memo": "Transaction Line Description"},
        date_format="%Y-%m-%d", keep={"Account Type": frozenset({"System Receivable Invoice"})}, terms_days=30,
        negative="payment", negative_names_invoice=True,
        how="Settings > Data Export > Export accounting transactions (CSV)",
        notes=("a journal: only the Accounts Receivable lines are read (Account Type 'System Receivable Invoice')",
               "a positive amount is an invoice, due 30 days after its date (the export has no due date); a "
               "negative one a payment on the invoice it names", "amounts in [portal] currency")),
    Profile(
        name="xero-aged-receivables-detail", title="Xero: Aged Receivables Detail report",
        columns={"date": "Invoice Date", "number": "Invoice Number", "memo": "Invoice Reference",
                 "due_date": "Due Date", "total": "Total"},
        date_format="%d %b %Y", customer_sections=True, negative="credit", terms_days=0,
        not_data=frozenset({"Percentage of total"}),
        how="Accounting > Reports > Aged Receivables Detail, ageing by due date, Export > Excel, saved as CSV",
        notes=("a snapshot of what is open on the report's day: each row's Total is what is open of it; the "
               "report's own age columns are not used", "the contact is the heading above their rows; a "
               "negative Total (a credit note, an overpayment) is credit naming no invoice",
               "amounts in [portal] currency")),
    Profile(
        name="invoicely-invoices", title="Invoicely: invoices export",
        columns={"date": "Date", "due_date": "Due", "number": "Details", "customer": "Client", "status": "Status",
                 "total": "Total"},
        date_format="%b %d %Y", not_owed=frozenset({"Draft", "Void"}), paid=frozenset({"Paid"}),
        partial=frozenset({"Partial"}),
        how="Invoices, Export (CSV)",
        notes=("no paid or balance column: Paid is paid in full, any other status (Due, Overdue) fully open",
               "a Partial invoice is counted fully open, with a warning: the export does not say how much was paid",
               "amounts in [portal] currency (the export has no currency column)")),
)}


def for_file(given: dict[str, Any], name: str) -> tuple[str | None, dict[str, Any]]:
    """(the pattern of the first [import.files."<pattern>"] that an export's file name matches, or
    None; the import keys for it: [import]'s, then that table's over them, columns merged)."""
    base = {k: v for k, v in given.items() if k != "files"}
    for pattern, keys in given.get("files", {}).items():
        if fnmatchcase(name, pattern):
            merged = {**base, **keys}
            if "columns" in base or "columns" in keys:
                merged["columns"] = {**base.get("columns", {}), **keys.get("columns", {})}
            return pattern, merged
    if "files" in given and not base.keys() & {"preset", "columns"}:
        return None, {}  # [import] holds defaults for its files tables: an export none matches is detected
    return None, base


def configured(given: dict[str, Any], where: str = "[import]") -> tuple[Profile | None, list[tuple[str | None, str]]]:
    """The profile an import table in the settings describes (`where` names it in messages): a
    preset with the keys given overriding its own, or (no preset) a profile of one's own from its
    columns. None when it says nothing. Problems as (key, message) for the settings to locate."""
    if not given:
        return None, []
    problems: list[tuple[str | None, str]] = []
    preset = given.get("preset")
    base = PRESETS.get(preset) if preset else None
    if preset and base is None:
        problems.append(("preset", f"'preset' in {where}: {preset!r} is not a preset (expected one of "
                                   f"{', '.join(PRESETS)})"))
    columns = dict(base.columns if base else {})
    for ours, theirs in given.get("columns", {}).items():
        if ours not in FIELDS:
            problems.append(("columns", f"'{ours}' in {where[:-1]}.columns] is not one of our fields (expected one of "
                                        f"{', '.join(FIELDS)})"))
        columns[ours] = theirs
    amount = {"total", "line_total", "debit", "credit"} & columns.keys()
    missing = [f for f in REQUIRED if f not in columns] + ([] if amount else ["total (or line_total, or debit)"])
    if missing and not problems:
        problems.append((None, f"{where} names no column for {', '.join(missing)} (expected a preset, or "
                               f"{where[:-1]}.columns] naming the export's header for each)"))
    if problems:
        return None, problems
    if base is None:
        base = Profile(name="custom", title=f"the export {where} describes", columns=columns,
                       date_format="%Y-%m-%d")
    changes: dict[str, Any] = {k: frozenset(given[k]) for k in ("not_owed", "paid", "partial") if k in given}
    changes.update({k: given[k] for k in ("date_format", "terms_days", "lines", "customer_sections", "negative",
                                          "negative_names_invoice") if k in given})
    changes.update({k: {h: frozenset(v) for h, v in given[k].items()} for k in ("skip", "keep") if k in given})
    return replace(base, columns=columns, **changes), []
