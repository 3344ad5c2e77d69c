"""Exports from accounting products, read into ledger files: profiles, presets, conversion, the import run."""
