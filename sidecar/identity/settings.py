"""What the identity sources are told by configuration: resolved once, handed to each source."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class IdentitySettings:
    """The slice of configuration the identity check and its sources need."""

    data_dir: Path | None = None  # SIDECAR_DATA_DIR: the data volume, mounted read-only
    query: str | None = None  # SIDECAR_IDENTITY_QUERY: the lineage query
    pin: Mapping[str, str] = field(default_factory=dict)  # SIDECAR_EXPECT_IDENTITY, parsed
    tables: tuple[str, ...] = ()  # the watched tables: a source reads these, not the schema
