"""The ledger folder: the settings, reading and checking the CSV files, the contact log.

Also the payment service's files, as they are read (pay.payment_log writes them).
"""
