"""sidecar: a health-check sidecar that knows whether MariaDB still holds *your* data."""

__version__ = "0.2.0"
