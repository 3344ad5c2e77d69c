"""Taking payments: what may be charged, Stripe (the only code that imports it), recording its word exactly once."""
