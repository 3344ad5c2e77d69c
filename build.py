"""Build the statement site from the ledger: `python build.py [--full] [--as-of D] [--out DIR]`."""
import sys

from portal.cli import main

if __name__ == "__main__":
    sys.exit(main(["build", *sys.argv[1:]]))
