"""Database engines, one package each: the connection, its bounds and its error taxonomy.

PostgreSQL's access lives in `engines/postgres/`; MariaDB's is still `sidecar/database.py`,
which the checks and identity sources call directly, until both stand behind one interface.
"""
