"""The pure core: money, records, accounts and aging, signing, the business's calendar.

Imports nothing else of the portal.
"""
