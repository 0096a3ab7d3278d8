"""A provider's refusal that quotes the customer's name (a mail server's "550 … Valentina's
mailbox …", or its transient 4xx): the reason stored on the message and every log line of the
send hold neither the name nor the address. Through the real send job and a real SMTP server."""

from __future__ import annotations

import pytest

from tests.jobs.test_email_channel import ABANDONED, smtp_store  # noqa: F401 (the fixture)

NAME = "Valentina"
EMAIL = "valentina.r@example.com"


@pytest.mark.parametrize(
    ("refusal", "status", "stored"),
    [
        (f"550 5.1.1 <{EMAIL}>: mailbox of {NAME.upper()} unavailable", "failed",
         "failed: recipient refused: 550 5.1.1 <<address>>: mailbox of <name> unavailable"),
        (f"451 4.2.2 {NAME}'s mailbox is over quota, try again later", "scheduled",
         "transient failure (recipient refused: 451 4.2.2 <name>'s mailbox is over quota, try again later)"),
    ],
    ids=["refused for good", "refused for now"],
)  # fmt: skip
def test_a_refusal_quoting_the_name_is_stored_and_logged_without_it(smtp_store, json_log, refusal, status, stored):  # noqa: F811
    store, smtp = smtp_store
    json_log.configure(RECLAIM_LOG_LEVEL="debug")
    smtp.refuse_rcpt = refusal
    customer = {"id": 7001, "email": EMAIL, "phone": None, "first_name": NAME, "last_name": "Ruiz"}
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED, email=EMAIL, customer=customer))
    store.tick("2026-03-02T19:00:00+00:00")

    message = store.message(step="first")
    assert message["status"] == status
    assert message["reason"].startswith(stored), message["reason"]
    assert json_log.events("failure") or json_log.events("wait")  # the send job's line was written
    ours = [line for line in json_log.lines() if line["logger"] != "mail.log"]  # aiosmtpd: the provider's own
    assert ours and not [line for line in ours if NAME.lower() in str(line).lower()]


def test_names_are_masked_as_whole_words_of_three_letters_or_more():
    from shop_app.domain.addresses import scrub_provider_text

    said = "Dear ANA Ruiz-Gómez (Al): Banana's mailbox; ana@x.io full, retry for Al"
    assert scrub_provider_text(said, names=["Ana", "Ruiz-Gómez", "Al", None]) == (
        "Dear <name> <name>-<name> (Al): Banana's mailbox; <address> full, retry for Al"
    )
    # The family name is not kept; written right after the first name, it goes too.
    assert scrub_provider_text("mailbox of VALENTINA Ruiz unknown; Valentina is away", names=["Valentina"]) == (
        "mailbox of <name> <name> unknown; <name> is away"
    )
