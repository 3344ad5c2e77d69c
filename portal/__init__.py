"""AR customer payment portal: signed static statement pages from a ledger CSV, paid through Stripe."""
from . import native

native.install()  # the one thing done at import: compiled modules run only if built from this source
