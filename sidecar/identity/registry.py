"""The registry of identity sources: the only place that lists them.

Adding a source is adding a module beside these and a line to `SOURCES`. Order matters:
strongest first (it is the order of the pin's text), and the first source that can tell when
the storage was born names it in "the database looks newly initialised".
"""

from sidecar.identity.datadir import DatadirSource
from sidecar.identity.inode import InodeSource
from sidecar.identity.lineage import LineageSource
from sidecar.identity.schema import SchemaSource
from sidecar.identity.sentinel import SentinelSource
from sidecar.identity.settings import IdentitySettings
from sidecar.identity.source import Source
from sidecar.identity.volume import VolumeSource

SOURCES: tuple[type[Source], ...] = (
    SentinelSource,
    LineageSource,
    VolumeSource,
    InodeSource,
    DatadirSource,
    SchemaSource,
)

PINNABLE: tuple[str, ...] = tuple(source.name for source in SOURCES if source.pinnable)


def build_sources(settings: IdentitySettings) -> tuple[Source, ...]:
    """Every source, configured."""
    return tuple(source.from_settings(settings) for source in SOURCES)
