"""Serve the built site and the payment service locally: `python serve.py [--port N]`."""
import sys

from portal.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
