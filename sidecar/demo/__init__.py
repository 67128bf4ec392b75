"""`sidecar demo` and the throwaway servers it (and the tests) run; no part of the service.

Nothing outside this package and `cli.py`'s demo entry imports it, so an image may leave it out.
"""
