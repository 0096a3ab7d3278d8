"""Benchmark: the database bytes one abandoned checkout's journey leaves (issue 13, storage).

Run from the project root:  python bench/journey_bytes.py [--journeys 2000] [--shops 10]

Each journey is made the real way: a signed `checkouts/update` webhook POSTed to the app's route
(Flask test client, in process: the delivery row with its body), the ingest job
(`jobs.ingest.ingest_delivery`: checkout, profile, consents, journey, its planned messages, the
body dropped), then every planned message claimed as the dispatcher claims it and sent by the real
batch send job (`jobs.send_batch.send_batch`) to the development outbox file (every channel
connected) with the live payment check on the development Admin API, each at its due time on a
simulated clock (the gates' send windows apply). The journeys go in `--rounds` rounds with a plain
VACUUM after each, as autovacuum does once a fifth of a table is dead (its default scale factor;
never VACUUM FULL), so later rounds reuse the space of the rows earlier ones updated. In a fresh
database (on PostgreSQL one created beside DATABASE_URL's and dropped after) it prints the growth of
pg_total_relation_size (table, TOAST and indexes) of every table that grew, per journey, with a
per-table and per-index breakdown. On SQLite it prints the file's growth only. It checks that
every webhook became one journey, that each planned its messages and that every message settled.
It prints, never asserts, the bytes; the issue's target is printed beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _journey_floor  # bench/ is the script's folder, first on sys.path
from _shops import install_shops
from send_job import redis_url_for  # bench/ is the script's folder, first on sys.path
from sqlalchemy import bindparam, create_engine, func, make_url, select, text
from sqlalchemy.engine import Connection
from webhook_ingest import checkout_payload

from jobs.dispatch import SEND_BATCH
from jobs.ingest import ingest_delivery
from jobs.send_batch import send_batch
from shop_app import create_app, runtime
from shop_app.config import DISPATCH_BATCH, Settings
from shop_app.devtools.admin_api import AdminApiServer
from shop_app.domain.models import FINAL, Status, WebhookStatus
from shop_app.recovery import outbox
from shop_app.shopify.signatures import webhook_hmac
from shop_app.storage.database import transaction, upgrade
from shop_app.storage.tables import Journey, Message, Shop, WebhookDelivery

TOPIC = "checkouts/update"
MAX_TURNS = 1000  # of the simulated clock, per round
TARGET = "target (issue 13): ≤ 2 KB per journey (4 planned messages)"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--journeys", type=int, default=2000, help="abandoned checkouts (default 2,000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, a plain VACUUM after each (default 5)")
    parser.add_argument("--shops", type=int, default=40, help="shops they are spread over (default 40)")
    return parser.parse_args(argv)


def shop_domains(count: int) -> list[str]:
    return [f"bench-bytes-{i:02d}.myshopify.com" for i in range(count)]


def fresh_database(base: Path, stack: contextlib.ExitStack) -> str:
    """An empty database for the run: an SQLite file in `base`, or on DATABASE_URL's PostgreSQL
    server a new database beside it (dropped at the end), so no free space left by earlier rows
    is reused and every table and index starts at its empty size."""
    url = os.environ.get("DATABASE_URL")
    if not url or url.startswith("sqlite"):
        return f"sqlite:///{base / 'bench.db'}"
    server = make_url(url)
    name = f"{server.database}_journey_bytes_{os.getpid()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    stack.callback(drop)
    return server.set(database=name).render_as_string(hide_password=False)


def settings_for(base: Path, database_url: str, redis_url: str, admin: AdminApiServer) -> Settings:
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "RECLAIM_INSTANCE_DIR": str(base / "instance"),
        "RECLAIM_ENV": "development",
        "RECLAIM_OUTBOX_FILE": str(base / "outbox.jsonl"),  # every channel connected, each send a line
        "SHOPIFY_ADMIN_BASE_URL": admin.admin_base_url,
    }
    return Settings.from_env({**os.environ, **env})


def payload(n: int, domain: str, abandoned: datetime) -> dict:
    """webhook_ingest.py's ~3 KB checkout (five line items, addresses, customer), its own buyer."""
    body = checkout_payload(n)
    token = uuid.uuid4().hex
    stamp = abandoned.isoformat()
    email, phone = f"bytes-buyer{n}@example.com", f"+346{n:08d}"
    body.update(id=60000000 + n, token=token, cart_token=f"cart-{token}", email=email, phone=phone,
                created_at=stamp, updated_at=stamp, buyer_accepts_sms_marketing=True,
                abandoned_checkout_url=f"https://{domain}/71234/checkouts/ac/{token}/recover?key=k{n}")  # fmt: skip
    body["customer"] = {**body["customer"], "id": 9000000 + n, "email": email, "phone": phone}
    return body


def post_webhooks(rt: runtime.Runtime, domains: list[str], numbers: range, abandoned: datetime) -> list[int]:
    """Checkouts `numbers` as signed webhooks through the real route; the ids of the deliveries still to ingest."""
    client = create_app(runtime=rt).test_client()
    secret = rt.settings.shopify_api_secret
    for n in numbers:
        domain = domains[n % len(domains)]
        body = json.dumps(payload(n, domain, abandoned)).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": TOPIC,
            "X-Shopify-Hmac-Sha256": webhook_hmac(body, secret),
            "X-Shopify-Shop-Domain": domain,
            "X-Shopify-API-Version": "2026-07",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": stamp_z(abandoned),
        }
        answer = client.post(f"/webhooks/{TOPIC}", data=body, headers=headers)
        if answer.status_code != 200:
            raise RuntimeError(f"webhook {n}: {answer.status_code} {answer.get_data(as_text=True)[:200]}")
    with transaction(rt.sessions) as session:
        shop_ids = select(Shop.id).where(Shop.domain.in_(domains))
        received = WebhookDelivery.status == WebhookStatus.RECEIVED.value
        return list(session.scalars(select(WebhookDelivery.id).where(WebhookDelivery.shop_id.in_(shop_ids), received)))


def stamp_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ingest(delivery_ids: list[int]) -> Counter[str]:
    """Each delivery through the ingest job's function (what its RQ job runs)."""
    return Counter(ingest_delivery(delivery_id) for delivery_id in delivery_ids)


def send_all(rt: runtime.Runtime) -> Counter[str]:
    """Every planned message sent at its time, on a simulated clock: the dispatcher's claim
    (outbox.claim_due: one shop's rows per send job, SEND_BATCH at most) as of the earliest due
    time left, then the batch send job as of that time (its gates may postpone a message into the
    send window: it is sent on a later turn). Until nothing is scheduled."""
    outcomes: Counter[str] = Counter()
    for _ in range(MAX_TURNS):
        with transaction(rt.sessions) as session:
            at = session.scalar(select(func.min(Message.due_at)).where(Message.status == Status.SCHEDULED.value))
            if at is None:
                return outcomes
            groups = outbox.claim_due(session, at, DISPATCH_BATCH, f"bench-bytes-{uuid.uuid4().hex[:8]}-", SEND_BATCH)
        for job_id, ids in groups:
            for part in send_batch(ids, job_id, at.isoformat()).split(", "):
                status, _, count = part.rpartition(" ")
                outcomes[status] += int(count)
    raise RuntimeError(f"messages still scheduled after {MAX_TURNS} turns of the simulated clock")


def statuses(rt: runtime.Runtime, shop_ids: list[int]) -> Counter[tuple[str, str, str]]:
    """Messages by (step, channel, status)."""
    key = (Message.step, Message.channel, Message.status)
    with transaction(rt.sessions) as session:
        rows = session.execute(select(*key, func.count()).where(Message.shop_id.in_(shop_ids)).group_by(*key))
        return Counter({(step, channel, status): count for step, channel, status, count in rows})


def skip_reasons(rt: runtime.Runtime, shop_ids: list[int]) -> str:
    """Why messages were skipped, most frequent first (reasons hold no personal data)."""
    key = (Message.step, Message.channel, Message.reason)
    with transaction(rt.sessions) as session:
        rows = session.execute(
            select(*key, func.count())
            .where(Message.shop_id.in_(shop_ids), Message.status == Status.SKIPPED.value)
            .group_by(*key)
            .order_by(func.count().desc())
            .limit(4)
        ).all()
    return "; ".join(f"{step} {channel} {n:,}: {reason}" for step, channel, reason, n in rows)


def planned_per_journey(rt: runtime.Runtime, shop_ids: list[int]) -> Counter[int]:
    """How many journeys planned how many messages."""
    with transaction(rt.sessions) as session:
        per = (
            select(func.count(Message.id).label("n"))
            .select_from(Journey)
            .outerjoin(Message, Message.journey_id == Journey.id)
            .where(Journey.shop_id.in_(shop_ids))
            .group_by(Journey.id)
            .subquery()
        )
        return Counter({n: count for n, count in session.execute(select(per.c.n, func.count()).group_by(per.c.n))})


SIZES = """
SELECT c.relname, t.relname, pg_relation_size(c.oid), c.relkind
FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indexrelid = c.oid LEFT JOIN pg_class t ON t.oid = i.indrelid
WHERE ns.nspname = current_schema() AND c.relkind IN ('r', 'i')
"""
TOTALS = """
SELECT c.relname, pg_total_relation_size(c.oid), pg_relation_size(c.oid),
       coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0)
FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
WHERE ns.nspname = coalesce(:schema, current_schema()) AND c.relkind = 'r'
"""


def sizes(connection: Connection) -> dict[str, tuple[int, ...]]:
    """Every table's (total, heap, TOAST, its live rows' bytes) and every index's (size,), by name
    ('table', 'table.index')."""
    found: dict[str, tuple[int, ...]] = {}
    for name, total, heap, toast in connection.execute(text(TOTALS), {"schema": None}):
        live = connection.scalar(text(f'SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM "{name}" t'))  # noqa: S608
        found[name] = (total, heap, toast, live)
    for name, table, size, kind in connection.execute(text(SIZES)):
        if kind == "i":
            found[f"{table}.{name}"] = (size,)
    return found


def postgres_sizes(rt: runtime.Runtime, vacuum: bool) -> dict[str, tuple[int, ...]]:
    with rt.engine.connect() as connection:
        if vacuum:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM"))
        return sizes(connection)


def breakdown(before: dict[str, tuple[int, ...]], after: dict[str, tuple[int, ...]], journeys: int) -> int:
    """Print what grew, per journey; the total of the tables' growth."""
    grown = {name: tuple(a - b for a, b in zip(after[name], before.get(name, (0,) * len(after[name])), strict=True))
             for name in after}  # fmt: skip
    tables = sorted((n for n in grown if "." not in n and grown[n][0] > 0), key=lambda n: -grown[n][0])
    total = sum(grown[n][0] for n in tables)
    print(f"database bytes per journey: {total / journeys:,.0f} (pg_total_relation_size growth of "
          f"{len(tables)} tables ÷ {journeys:,} journeys; a plain VACUUM after each round)")  # fmt: skip
    for table in tables:
        whole, heap, toast, live = grown[table]
        indexes = sorted(((n, g[0]) for n, g in grown.items() if n.startswith(f"{table}.")), key=lambda x: -x[1])
        index_bytes = sum(size for _, size in indexes)
        print(f"  {table:22} {whole / journeys:7,.0f}  (heap {heap / journeys:,.0f} of which live rows "
              f"{live / journeys:,.0f}, TOAST {toast / journeys:,.0f}, "
              f"{len(indexes)} indexes {index_bytes / journeys:,.0f})")  # fmt: skip
        for name, size in indexes:
            print(f"      {name.split('.', 1)[1]:44} {size / journeys:7,.0f}")
    return total


def row_counts(rt: runtime.Runtime, shop_ids: list[int]) -> str:
    tables = ("checkouts", "profiles", "consents", "journeys", "messages", "message_events", "webhook_deliveries")
    with rt.engine.connect() as connection:
        query = "SELECT count(*) FROM {} WHERE shop_id IN :ids"
        ids = bindparam("ids", expanding=True)
        counts = {t: connection.scalar(text(query.format(t)).bindparams(ids), {"ids": shop_ids}) for t in tables}
    return ", ".join(f"{t} {n:,}" for t, n in counts.items())


def sqlite_size(rt: runtime.Runtime, path: Path) -> int:
    """The SQLite file's size once its write-ahead log is checkpointed into it."""
    with rt.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def abandoned_at(round_number: int) -> datetime:
    """A round's checkouts are abandoned at 09:00 UTC (10:00 in Madrid, 11:00 in summer) on a day of
    their own, from tomorrow: every run meets the same send windows (the Prime steps, 16 hours later,
    are postponed to the morning), so the same number of row versions."""
    day = datetime.now(UTC) + timedelta(days=1 + round_number)
    return day.replace(hour=9, minute=0, second=0, microsecond=0)


def rounds(count: int, parts: int) -> list[tuple[int, int]]:
    """[first, last) of each round's checkouts."""
    bounds = [count * k // parts for k in range(parts + 1)]
    return list(zip(bounds, bounds[1:], strict=False))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    domains = shop_domains(args.shops)
    with tempfile.TemporaryDirectory(prefix="reclaim-bytes-") as tmp, contextlib.ExitStack() as stack:
        base = Path(tmp)
        redis_url = redis_url_for(base, stack)
        admin = stack.enter_context(AdminApiServer(validate=False))
        settings = settings_for(base, fresh_database(base, stack), redis_url, admin)
        upgrade(settings.database_url)
        runtime.reset()
        rt = runtime.install(runtime.Runtime.build(settings))
        stack.callback(runtime.reset)
        stack.callback(rt.engine.dispose)
        shop_ids = install_shops(rt, admin, domains, "Europe/Madrid")  # default settings
        postgres = rt.engine.dialect.name == "postgresql"
        sqlite_file = None if postgres else Path(settings.database_url.removeprefix("sqlite:///"))
        before = postgres_sizes(rt, vacuum=True) if postgres else {}
        file_before = sqlite_size(rt, sqlite_file) if sqlite_file else 0

        ingested, sent = Counter[str](), Counter[str]()
        for n, (first, last) in enumerate(rounds(args.journeys, args.rounds)):
            abandoned = abandoned_at(n)
            ingested += ingest(post_webhooks(rt, domains, range(first, last), abandoned))
            sent += send_all(rt)
            if postgres:
                postgres_sizes(rt, vacuum=True)  # what autovacuum does once a fifth of a table is dead
        planned = planned_per_journey(rt, shop_ids)
        final = statuses(rt, shop_ids)

        print(f"{args.journeys:,} checkouts/update webhooks over {args.shops} shops (default settings) through the "
              f"route, the ingest and batch send jobs, in {args.rounds} rounds; {rt.engine.dialect.name}")  # fmt: skip
        print(f"planned messages per journey: {dict(sorted(planned.items()))} (messages: journeys)")
        print(
            f"send job outcomes (one postponed into its send window: scheduled, once per turn): {dict(sent)}; "
            "messages now: "
            + ", ".join(f"{step} {channel} {status} {n:,}" for (step, channel, status), n in sorted(final.items()))
        )
        print(f"skipped: {skip_reasons(rt, shop_ids)}")
        print(f"rows: {row_counts(rt, shop_ids)}")
        journeys = sum(planned.values())
        if postgres:
            total = breakdown(before, postgres_sizes(rt, vacuum=False), journeys)
            print_floor(rt, args, domains, total, journeys)
        else:
            assert sqlite_file is not None
            grown = sqlite_size(rt, sqlite_file) - file_before
            print(f"database bytes per journey: {grown / journeys:,.0f} (the SQLite file's growth, WAL checkpointed; "
                  "the breakdown is PostgreSQL's only)")  # fmt: skip
        print(TARGET)
        print(f"verified: {verified(args.journeys, ingested, planned, final)}")
    return 0


def table_totals(connection: Connection, schema: str) -> dict[str, int]:
    """pg_total_relation_size (heap, TOAST and indexes) of each table of `schema`."""
    return {name: total for name, total, *_ in connection.execute(text(TOTALS), {"schema": schema})}


def print_floor(rt: runtime.Runtime, args: argparse.Namespace, domains: list[str], total: int, journeys: int) -> None:
    """The floor (bench/_journey_floor.py) of the same checkouts, per journey, and these tables' ratio to it."""
    make = lambda n: payload(n, domains[n % args.shops], abandoned_at(0))  # noqa: E731
    with rt.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        _journey_floor.create(connection)
        before = table_totals(connection, _journey_floor.SCHEMA)
        _journey_floor.load(connection, rounds(args.journeys, args.rounds), args.shops, make)
        floor = {name: size - before[name] for name, size in table_totals(connection, _journey_floor.SCHEMA).items()}
    least = sum(floor.values())
    parts = ", ".join(f"{name} {size / journeys:,.0f}" for name, size in sorted(floor.items(), key=lambda x: -x[1]))
    print(f"floor: {least / journeys:,.0f} bytes per journey, the same checkouts' rows in a minimal schema "
          f"(bench/_journey_floor.py; {parts}); these tables take {total / least:.2f}× the floor")  # fmt: skip


def verified(webhooks: int, ingested: Counter[str], planned: Counter[int], final: Counter[tuple[str, str, str]]) -> str:
    """One journey per webhook, 4 messages planned each, every message settled and some sent; else raises."""
    journeys, problems = sum(planned.values()), []
    if journeys != webhooks or ingested.total() != webhooks:
        problems.append(f"{journeys} journeys from {webhooks} webhooks ({dict(ingested)})")
    if set(planned) != {4}:
        problems.append(f"not every journey planned 4 messages: {dict(planned)}")
    if any(status not in {s.value for s in FINAL} for _, _, status in final):
        problems.append(f"messages not settled: {dict(final)}")
    if not any(status == Status.SENT.value for _, _, status in final):
        problems.append("no message was sent")
    if problems:
        raise RuntimeError("; ".join(problems))
    return f"{journeys:,} journeys, one per webhook, 4 messages planned each, every message settled"


if __name__ == "__main__":
    sys.exit(main())
