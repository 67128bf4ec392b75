"""The registry of identity sources: each engine's dialect lists the ones its server answers
(engines/*/dialect.py `identity_sources`); this module builds them and names the pinnable ones.

Adding a source is adding a module beside these and a line to the dialects that can read it.
Order matters: strongest first (it is the order of the pin's text), and the first source that
can tell when the storage was born names it in "the database looks newly initialised".
"""

from sidecar.engines.base import Dialect
from sidecar.engines.mariadb.dialect import MARIADB
from sidecar.engines.postgres.dialect import POSTGRES
from sidecar.identity.settings import IdentitySettings
from sidecar.identity.source import Source

DIALECTS: tuple[Dialect, ...] = (MARIADB, POSTGRES)


def pinnable_on(dialect: Dialect) -> tuple[str, ...]:
    """The sources a pin may name on this engine."""
    return tuple(source.name for source in dialect.identity_sources() if source.pinnable)


def _pinnable() -> tuple[str, ...]:
    # Each engine's order, merged: a name joins after the names it follows in its engine.
    names: list[str] = []
    for dialect in DIALECTS:
        for source in dialect.identity_sources():
            if source.pinnable and source.name not in names:
                before = [s.name for s in dialect.identity_sources()]
                later = [
                    n for n in names if n in before and before.index(n) > before.index(source.name)
                ]
                names.insert(names.index(later[0]) if later else len(names), source.name)
    return tuple(names)


# Every name a pin may use, on some engine; `pinnable_on` says which on one.
PINNABLE: tuple[str, ...] = _pinnable()


def build_sources(settings: IdentitySettings, dialect: Dialect) -> tuple[Source, ...]:
    """Every source the engine answers, configured."""
    return tuple(source.from_settings(settings) for source in dialect.identity_sources())
