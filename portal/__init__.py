"""AR customer payment portal: signed static statement pages from a ledger CSV, paid through Stripe."""
