"""The test workers share one Redis server, each in its own database (tests/conftest.py). A FLUSHALL
empties every database of the server, so a test that runs one on the shared server loses whatever
another worker's test has in flight (CI lost an ingest job that way twice: a delivery recorded and
never ingested). Tests empty their own database with FLUSHDB; a real FLUSHALL runs only on a
redis-server of the test's own (tests/faults/test_redis_faults.py)."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
#: Files whose FLUSHALL goes to a redis-server they started themselves.
OWN_SERVER = {"faults/test_redis_faults.py"}
FLUSHALL = re.compile(r"\.flushall\(")


def test_no_test_empties_every_database_of_the_shared_redis() -> None:
    found = [
        f"{path.relative_to(TESTS)}:{number}"
        for path in sorted(TESTS.rglob("*.py"))
        if str(path.relative_to(TESTS)) not in OWN_SERVER
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if FLUSHALL.search(line)
    ]
    assert found == [], f"FLUSHALL on the shared Redis (use flushdb): {found}"
