"""The HTTP interface against its OpenAPI description (docs/openapi.yaml), fuzzed by schemathesis.

Every documented operation is called against a live `sidecar serve` and checked for status
codes, content types, headers and bodies that conform to the document, no server errors, and
405 for methods the document does not list.
"""

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.support.servers import SidecarProcess

# Pinned in the test dependencies (schemathesis==4.32.5); absent only on a machine set up
# before it was added.
schemathesis = pytest.importorskip("schemathesis")

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
schema = schemathesis.openapi.from_path(OPENAPI)


@schema.parametrize()  # type: ignore[untyped-decorator]  # schemathesis ships it untyped
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_openapi(case: Any, live_sidecar: SidecarProcess) -> None:
    """Each operation answers as documented, whatever schemathesis sends."""
    case.call_and_validate(base_url=live_sidecar.base_url, timeout=5)
