"""The Flask service: the site's routes and the payment routes. gunicorn: `portal.web:create_app()`."""
from .app import create_app

__all__ = ["create_app"]
