"""Which table of a PostgreSQL dump a watched name means: schema-qualified, case-sensitive.

PostgreSQL folds unquoted names to lower case, and a Prisma-style app creates `"User"`
quoted, so `"User"` and `user` are two tables; a dump names each as `schema.table`, quoted
where needed (`public."User"`, `public.user`, `shop."Order"`). The operator configures the
name as the app spells it, without SQL quoting:

- `User` is table `User` (exactly that case) in schema `public`;
- `shop.Order` is table `Order` in schema `shop`; `public.User` is the same as `User`;
- a name with a dot may also be a table whose name holds the dot (`public."a.b"`): when the
  dump holds both readings, the name is ambiguous and refused, never guessed;
- SQL quotes are accepted for such names: `"a.b"` (public) or `shop."a.b"` say it exactly.

Names in the dump are read as PostgreSQL reads them: `"..."` with `""` undoubled, an unquoted
name lower-cased, an unqualified one in `public` (pg_dump always qualifies: it empties the
search_path).
"""

from collections.abc import Collection
from dataclasses import dataclass

DEFAULT_SCHEMA = "public"


@dataclass(frozen=True, order=True)
class QualifiedName:
    """A table as PostgreSQL knows it: its schema and its name, both exact."""

    schema: str
    table: str

    def __str__(self) -> str:
        return f"{quoted(self.schema)}.{quoted(self.table)}"


def quoted(name: str) -> str:
    """`name` as pg_dump writes it: bare when PostgreSQL would read it back unchanged."""
    bare = name[:1].isascii() and (name[:1].islower() or name[:1] == "_")
    if bare and all(c.isascii() and (c.islower() or c.isdigit() or c in "_$") for c in name):
        return name
    return '"' + name.replace('"', '""') + '"'


def dump_identifier(raw: bytes) -> str:
    """An identifier as written in a dump, as PostgreSQL reads it (quotes off, or folded)."""
    if raw.startswith(b'"'):
        return raw[1:-1].replace(b'""', b'"').decode("utf-8", "surrogateescape")
    # PostgreSQL folds only ASCII letters of an unquoted name.
    return raw.decode("utf-8", "surrogateescape").translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def readings(watched: str) -> tuple[QualifiedName, ...]:
    """The tables a configured name may mean, the likeliest first (one unless it has a dot)."""
    parts = _split(watched)
    if parts is not None:  # quotes were used: the name says exactly what it means
        return (QualifiedName(*parts),)
    if "." not in watched:
        return (QualifiedName(DEFAULT_SCHEMA, watched),)
    schema, _, table = watched.partition(".")
    found = [QualifiedName(schema, table), QualifiedName(DEFAULT_SCHEMA, watched)]
    return tuple(dict.fromkeys(found))


def _split(watched: str) -> tuple[str, str] | None:
    """`(schema, table)` of a name written with SQL double quotes; None when it has none."""
    if '"' not in watched:
        return None
    parts: list[str] = []
    i = 0
    while i <= len(watched):
        if watched.startswith('"', i):
            end = i + 1
            name = ""
            while True:
                close = watched.find('"', end)
                if close < 0:
                    return None
                name += watched[end:close]
                if watched.startswith('""', close):
                    name += '"'
                    end = close + 2
                    continue
                i = close + 1
                break
        else:
            dot = watched.find(".", i)
            name = watched[i:] if dot < 0 else watched[i:dot]
            i = len(watched) if dot < 0 else dot
        parts.append(name)
        if i >= len(watched):
            break
        if watched[i] != ".":
            return None
        i += 1
    if len(parts) == 1:
        return DEFAULT_SCHEMA, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    return None


@dataclass(frozen=True)
class Resolution:
    """What a watched name means in one dump: a table, none, or an ambiguity to refuse."""

    table: QualifiedName | None
    ambiguous: tuple[QualifiedName, ...] = ()

    def why(self, watched: str) -> str:
        """The one-line refusal of an ambiguous name."""
        both = " and ".join(str(name) for name in self.ambiguous)
        return (
            f"the name {watched} is ambiguous in this dump: it holds both {both};"
            ' configure it with SQL quotes, as schema."table" or "table.name"'
        )


def resolve(watched: str, present: Collection[QualifiedName]) -> Resolution:
    """The table of `present` (the dump's tables) that `watched` names."""
    options = readings(watched)
    held = [name for name in options if name in present]
    if len(held) > 1:
        return Resolution(None, tuple(held))
    if held:
        return Resolution(held[0])
    return Resolution(None)
