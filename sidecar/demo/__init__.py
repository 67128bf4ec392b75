"""`sidecar demo` and the throwaway servers it (and the tests) run; no part of the service.

Nothing outside this package imports it but `cli.py`'s demo entry (lazily, this name aside), so
an image may leave the rest out.
"""

ENGINES = ("mariadb", "postgres")  # `sidecar demo --engine`; the first is the default
