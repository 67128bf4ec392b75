"""What PostgreSQL's catalogue says about named tables: estimates, generations, indexes.

`pg_class` is a real table indexed on (relname, relnamespace), so `relname = ANY($1)` in one
schema is an index lookup per name and its cost follows the names asked for, not the schema
(no statistics view is joined: those compute a row for every table before the join).
Names are matched exactly (the checks quote every identifier, so `User` is the table Prisma
creates as `"User"` and never `user`), in the connection's current schema (the first schema of
`search_path` that exists: `public` unless the role or database sets another).

The row estimate is the smaller of two the server keeps: `pg_class.reltuples` (set by VACUUM
and ANALYZE; -1 on a table never vacuumed or analysed since PostgreSQL 14) and the statistics
system's `n_live_tup` (updated as transactions commit, so a mass DELETE shows within about a
second, where reltuples waits for autovacuum). The smaller, because an estimate too low only
costs a bounded probe near a line, while one too high could hide a loss (`n_live_tup` starts
again from 0 after a crash or a stats reset: too low, never too high). Neither known: None, and
the table is counted exactly. A partitioned table has neither: it is counted exactly too.
"""

from collections.abc import Iterable, Sequence

from sidecar.engines.base import Database, TableEntry, groups

_KINDS = "('r', 'p', 'v', 'm', 'f')"  # tables, partitioned tables, views, materialised, foreign
_SCHEMA = "COALESCE($2::text, current_schema())"
LOOKUP = (
    # relkind is of type "char", which asyncpg hands over as bytes: cast to text.
    # n_live_tup from its function, for the named tables only: joined as the view
    # pg_stat_user_tables, it was computed for every table of the database (the view groups
    # by table), 52 ms a lookup at 15,000 tables against 0.4 ms (bench/pg_schema.py).
    "SELECT c.relname, c.relkind::text, c.reltuples::float8,"
    " CASE WHEN c.relkind IN ('r', 'm', 'p') THEN pg_catalog.pg_stat_get_live_tuples(c.oid) END,"
    " c.oid::int8"
    " FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    f" WHERE n.nspname = {_SCHEMA} AND c.relname = ANY($1::text[]) AND c.relkind IN {_KINDS}"
)
# The oldest relations (OIDs count up from FirstNormalObjectId, 16384), not the first by name:
# pg_class has no index that starts with the schema, and in name order every table's
# `pg_toast_<oid>` and its index sort before most user tables, so a LIMIT by name read ~30,000
# rows at 15,000 tables (10 ms) to find 18; by OID it reads the user objects from the first, 4
# a table (the table, its toast table and index, its primary key).
FIRST_USER_OID = 16384
LIST = (
    "SELECT c.relname FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    f" WHERE n.nspname = current_schema() AND c.relkind IN {_KINDS}"
    f" AND c.oid >= {FIRST_USER_OID} ORDER BY c.oid LIMIT $1"
)
# A column leads an index that can answer MAX(): a btree whose first key is the column, not
# partial (a partial index holds only some rows) and not an expression.
LEADS_INDEX = (
    "SELECT t.relname, a.attname FROM pg_catalog.pg_index i"
    " JOIN pg_catalog.pg_class t ON t.oid = i.indrelid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace"
    " JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
    " JOIN pg_catalog.pg_am am ON am.oid = ic.relam AND am.amname = 'btree'"
    " JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]"
    " WHERE n.nspname = current_schema() AND t.relname = ANY($1::text[])"
    " AND i.indpred IS NULL AND i.indkey[0] <> 0"
)


def estimate(reltuples: float | None, live: int | None) -> int | None:
    """The smaller of the estimates the server has; None when it has none."""
    known = [int(reltuples)] if reltuples is not None and reltuples >= 0 else []
    known += [int(live)] if live is not None else []
    return min(known) if known else None


async def lookup(
    db: Database, names: Iterable[str], schema: str | None = None
) -> dict[str, TableEntry]:
    """The catalogue entries of the named tables that exist, by name."""
    found: dict[str, TableEntry] = {}
    for group in groups(sorted(set(names))):
        result = await db.query(LOOKUP, [list(group), schema])
        for name, kind, reltuples, live, oid in result.rows:
            rows = estimate(reltuples, live) if kind == "r" else None
            found[str(name)] = TableEntry(str(name), kind != "v", rows, None, str(oid))
    return found


async def list_tables(db: Database, limit: int) -> list[str]:
    """The `limit` oldest relations of the current schema (by OID: see `LIST`)."""
    result = await db.query(LIST, [limit])
    return [str(row[0]) for row in result.rows]


async def leading_index(db: Database, columns: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (table, column) pairs lead a btree index of their table."""
    leading: set[tuple[str, str]] = set()
    wanted = set(columns)
    for group in groups(sorted({table for table, _ in columns})):
        result = await db.query(LEADS_INDEX, [list(group)])
        leading.update(p for p in ((str(t), str(c)) for t, c in result.rows) if p in wanted)
    return leading
