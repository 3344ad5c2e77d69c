"""The ledger folder: the settings, reading and checking the CSV files, the contact log, and the payment service's files as they are read."""
