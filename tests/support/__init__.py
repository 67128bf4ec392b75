"""Shared test machinery: real MariaDB servers and real `sidecar serve` processes."""
