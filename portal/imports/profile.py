"""Import profiles: the shape of an accounting product's export, and the presets for the exports staff make.

A profile names, for each of our fields, the export's column; says how its dates are written,
which statuses are not owed, which document types are credit notes, and which columns key one
document when the export has a row per invoice line. Pure data: convert.py reads with it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

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
    "paid": "the part of the total paid",
    "balance": "what is still open of the total",
    "paid_date": "the date of the last payment",
    "currency": "the currency (ISO 4217)",
    "memo": "a description",
}
REQUIRED = ("customer", "number", "date", "total")


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
