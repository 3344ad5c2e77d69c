"""Build the statement site from the ledger: `python build.py [--full] [--as-of D] [--out DIR]`."""
import sys

from portal.cli import entry

if __name__ == "__main__":
    entry(["build", *sys.argv[1:]])
