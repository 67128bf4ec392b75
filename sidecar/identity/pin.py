"""The pin's text (`SIDECAR_EXPECT_IDENTITY`), as `sidecar adopt` prints it and operators paste it.

`source=value` pairs joined by commas, strongest source first, e.g.
`volume=shop_db_data,inode=1835011,datadir=20261125T102958Z,sentinel=9f2c...`. Only pinnable
sources (registry.py) may appear.
"""

from collections.abc import Mapping

from sidecar.identity.registry import PINNABLE
from sidecar.state import IdentityValue


def pin_text(values: Mapping[str, IdentityValue]) -> str:
    """The `SIDECAR_EXPECT_IDENTITY` value for the pinnable sources among `values`."""
    return ",".join(f"{name}={values[name]}" for name in PINNABLE if name in values)


def parse_pin(text: str) -> dict[str, str]:
    """Parse a pin; raise ValueError naming what is wrong."""
    values: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or not value.strip():
            raise ValueError(f"{part.strip()!r} is not source=value (e.g. volume=shop_db_data)")
        if name not in PINNABLE:
            raise ValueError(f"unknown identity source {name!r} (one of {', '.join(PINNABLE)})")
        values[name] = value.strip()
    return values
