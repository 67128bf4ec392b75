"""`database:privileges` against a real MariaDB: an account named by what it may do. (The
writing account of the contract is in tests/engines/test_contract.py; the rules in
test_privileges_rules.py.)"""

from sidecar.results import Status
from tests.support.evaluate import check, once
from tests.support.mariadb import MariaDBTestServer


async def test_root_is_warned_about_by_what_it_may_do(seeded: MariaDBTestServer) -> None:
    """Named by its privileges, never as ALL PRIVILEGES (the writing account of the contract:
    tests/engines/test_contract.py)."""
    root = check(await once(seeded, user="root"), "database:privileges")
    assert root.status is Status.WARN and "ALL PRIVILEGES" not in root.output
    assert "DROP" in root.output and "UPDATE" in root.output
