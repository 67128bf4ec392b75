"""Reading backups: which dumps there are, what they hold, and whether they still hold our data.

The modules, from the file up:
- `scanner`: the SQL of a MariaDB dump, fed buffer by buffer; rows counted per (database, table).
- `plain`: the rows of INSERTs as dump tools write them, proven with bytes methods alone.
- `pgscanner`: the SQL of a PostgreSQL dump (pg_dump, pg_dumpall): COPY blocks and INSERTs.
- `pgnames`: which schema-qualified, case-sensitive table a watched name means.
- `pgrestore`: pg_dump's custom format (`-Fc`), read as SQL through pg_restore, bounded.
- `dump`: one dump file (plain, gzip, zstd or custom by magic bytes, the dialect by its first
  bytes) -> `DumpCount`, never a wrong count.
- `catalog`: the backup directory: dumps newest first, hostile entries skipped, sizes, settling.
- `ledger`: what each file held, keyed by name, size and mtime, so each dump is read once.
- `runner` and `parse_worker`: counting in a child process within a CPU, memory and time budget.
- `judge`: the verdicts (freshness, size, rows per table, restore candidate): a pure function.
"""
