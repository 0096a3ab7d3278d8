"""Profile: one shop's batch send jobs in process under cProfile (issue 13, worker CPU per message).

Run from the project root:  python bench/profile_send.py [--channel email|sms] [--messages 50] [--top 40]

Email goes to the development outbox file, SMS (a Prime SMS with a unique code) to the development
Twilio server; the payment check and codes to the development Admin API server. The shop is in
Madrid, with the default 09:00–21:00 window: outside it (and the Spanish recipients' hours) an SMS
run shows the gates' postponement, not a send. A warm-up batch runs
first, unprofiled. Prints the CPU per message of the profiled batch and cProfile's top functions by
cumulative and by own time. DATABASE_URL and REDIS_URL as for bench/send_job.py.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from send_job import bench_settings, checkout_payload, redis_url_for  # bench/ is the script's folder, first on sys.path
from sqlalchemy import delete, select

from jobs.ingest import on_checkout
from jobs.send_batch import send_batch
from shop_app import runtime
from shop_app.channels.accounts import save_twilio
from shop_app.devtools.admin_api import AdminApiServer
from shop_app.devtools.twilio_api import TwilioApiServer
from shop_app.recovery import outbox
from shop_app.shopify.shops import install_shop, save_settings
from shop_app.storage.database import transaction, upgrade
from shop_app.storage.tables import Message, Shop

DOMAIN = "bench-profile-00.myshopify.com"
EMAIL_SETTINGS = {"recovery": {"whatsapp": {"enabled": False}, "prime": {"enabled": False}}}
SMS_SETTINGS = {
    "recovery": {
        "first": {"enabled": False},
        "whatsapp": {"enabled": False},
        "prime": {
            "channels": ["sms"],
            "incentive": {"type": "percentage", "value": 10, "code_mode": "unique", "expiry_hours": 48},
        },
    },
}


def build(base: Path, redis_url: str, admin: AdminApiServer, twilio: TwilioApiServer, channel: str) -> runtime.Runtime:
    outbox_file = base / "outbox.jsonl" if channel == "email" else None
    settings = bench_settings(base, redis_url, admin, twilio, outbox_file)
    upgrade(settings.database_url)
    runtime.reset()
    return runtime.install(runtime.Runtime.build(settings))


def setup_shop(rt: runtime.Runtime, admin: AdminApiServer, twilio: TwilioApiServer, channel: str) -> int:
    admin.add_shop(DOMAIN, name="Bench Shop", iana_timezone="Europe/Madrid", currency_code="EUR")
    with transaction(rt.sessions) as session:
        session.execute(delete(Shop).where(Shop.domain == DOMAIN))
    with transaction(rt.sessions) as session:
        shop = install_shop(session, rt.box, DOMAIN, admin.issue_token(DOMAIN), name="Bench Shop",
                            timezone="Europe/Madrid", currency="EUR")  # fmt: skip
        save_settings(session, shop, EMAIL_SETTINGS if channel == "email" else SMS_SETTINGS)
        if channel == "sms":
            save_twilio(session, rt.box, shop.id, twilio.account(messaging_service_sid="MG" + "b" * 32))
        return shop.id


def held_batch(rt: runtime.Runtime, shop_id: int, count: int, start: int, channel: str) -> tuple[list[int], str]:
    """`count` checkouts planned, their messages made due now and queued under one job id."""
    abandoned = datetime.now(UTC) - timedelta(days=2)
    with transaction(rt.sessions) as session:
        shop = session.get_one(Shop, shop_id)
        for n in range(start, start + count):
            payload = checkout_payload(n, abandoned)
            payload["phone"] = f"+346001{n:05d}"
            on_checkout(session, shop, payload, abandoned)
    job_id = f"profile-{channel}-{start}"
    now = datetime.now(UTC)
    with transaction(rt.sessions) as session:
        ids = session.scalars(
            select(Message.id).where(Message.shop_id == shop_id, Message.status == "scheduled").order_by(Message.id)
        ).all()
        for message_id in ids:
            outbox.reschedule(session, message_id, now - timedelta(seconds=1), "profile: due now")
            outbox.queue(session, message_id, job_id, now)
    return list(ids), job_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channel", choices=("email", "sms"), default="email")
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--dump", help="write the profile's stats to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="reclaim-profile-") as tmp, contextlib.ExitStack() as stack:
        base = Path(tmp)
        redis_url = redis_url_for(base, stack)
        admin = stack.enter_context(AdminApiServer(validate=False))
        twilio = stack.enter_context(TwilioApiServer(validate=False))
        rt = build(base, redis_url, admin, twilio, args.channel)
        stack.callback(runtime.reset)
        shop_id = setup_shop(rt, admin, twilio, args.channel)
        stack.callback(lambda: _remove(rt))
        ids, job_id = held_batch(rt, shop_id, 10, 0, args.channel)
        print("warm-up:", send_batch(ids, job_id))
        ids, job_id = held_batch(rt, shop_id, args.messages, 1000, args.channel)
        own = time.thread_time()
        answer = send_batch(ids, job_id)
        own = time.thread_time() - own
        print(f"unprofiled: {answer}; CPU per message {own * 1000 / len(ids):.2f} ms in the job's thread")
        ids, job_id = held_batch(rt, shop_id, args.messages, 10, args.channel)
        profile = cProfile.Profile(time.thread_time)  # this thread's CPU, not the servers' threads
        cpu, own = time.process_time(), time.thread_time()
        profile.enable()
        answer = send_batch(ids, job_id)
        profile.disable()
        cpu, own = time.process_time() - cpu, time.thread_time() - own
        print(f"{args.channel}: {answer}; {len(ids)} messages, CPU per message {own * 1000 / len(ids):.2f} ms "
              f"in the job's thread, {cpu * 1000 / len(ids):.2f} ms with the development servers' threads")  # fmt: skip
        stats = pstats.Stats(profile)
        if args.dump:
            stats.dump_stats(args.dump)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
    return 0


def _remove(rt: runtime.Runtime) -> None:
    with transaction(rt.sessions) as session:
        session.execute(delete(Shop).where(Shop.domain == DOMAIN))


if __name__ == "__main__":
    sys.exit(main())
