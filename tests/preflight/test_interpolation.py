"""`${VAR}` interpolation, as the compose tools read it (`.env` files: test_dotenv.py)."""

import pytest

from sidecar.preflight.errors import PreflightError
from sidecar.preflight.interpolation import interpolate, interpolate_tree

ENV = {"SET": "value", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$SET", "value"),
        ("${SET}", "value"),
        ("${SET}_data", "value_data"),
        ("$SET.suffix", "value.suffix"),
        ("${UNSET}", ""),
        ("${UNSET:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${EMPTY-fallback}", ""),
        ("${UNSET-fallback}", "fallback"),
        ("${SET:+other}", "other"),
        ("${EMPTY:+other}", ""),
        ("${EMPTY+other}", "other"),
        ("${UNSET:-${SET}-x}", "value-x"),
        ("$$SET", "$SET"),
        ("price: 5$", "price: 5$"),
        ("a $ b", "a $ b"),
        ("volume=${SET}_mariadb_production_data", "volume=value_mariadb_production_data"),
    ],
)
def test_forms(text: str, expected: str) -> None:
    assert interpolate(text, ENV) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${UNSET:?set DB_VOLUME first}", "required variable UNSET is missing: set DB_VOLUME"),
        ("${EMPTY:?}", "required variable EMPTY"),
        ("${UNSET?}", "required variable UNSET"),
        ("${SET", "invalid variable reference"),
        ("${SET:-unclosed", "unclosed"),
        ("${1BAD}", "invalid variable reference"),
    ],
)
def test_refusals_are_one_line(text: str, message: str) -> None:
    with pytest.raises(PreflightError, match=message):
        interpolate(text, ENV)


def test_required_and_set_passes() -> None:
    assert interpolate("${SET:?never}", ENV) == "value"


def test_trees_interpolate_values_not_keys() -> None:
    tree = {"${SET}": ["$SET", {"k": "${UNSET:-d}"}, 3, None]}
    assert interpolate_tree(tree, ENV) == {"${SET}": ["value", {"k": "d"}, 3, None]}
