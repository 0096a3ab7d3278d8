"""A whole recovery journey with RECLAIM_LOG_FORMAT=json: signed webhooks through the real routes,
the ingest job, the planner, the dispatcher tick and the send job, then the order. Every line is
one JSON object; the ingest, plan and send events are there with their fields; and no line holds
the customer's email, phone, names or address, nor a secret of the app or the shop."""

from __future__ import annotations

ABANDONED = "2026-03-02T19:00:00+01:00"  # a Monday evening in Madrid
EMAIL = "lucianita.q7731@example.org"
PHONE = "+34611987654"
FIRST, LAST = "Lucianita", "Quintanilla"
ADDRESS = {
    "first_name": FIRST,
    "last_name": LAST,
    "address1": "Calle del Olmo 42",
    "address2": "Piso 3B",
    "city": "Villaverde Alto",
    "zip": "28021",
    "phone": PHONE,
    "country_code": "ES",
}
#: What no line may hold: each way the customer's details could be written.
PERSONAL = (EMAIL, "lucianita.q7731", PHONE, "611987654", "611 98 76 54", FIRST, LAST,
            "Calle del Olmo", "Piso 3B", "Villaverde", "28021")  # fmt: skip
LINE_KEYS = {"time", "level", "logger", "message"}


def customer_checkout(store) -> dict:
    return store.checkout(
        "c-logs",
        ABANDONED,
        email=EMAIL,
        phone=PHONE,
        buyer_accepts_marketing=True,
        customer={"id": 7731, "email": EMAIL, "phone": PHONE, "first_name": FIRST, "last_name": LAST},
        billing_address=ADDRESS,
        shipping_address=ADDRESS,
    )


def test_a_journey_logs_ingest_plan_and_send_lines_without_the_customer(store, json_log):
    store.deliver("checkouts/create", customer_checkout(store))
    store.tick("2026-03-02T19:00:00+00:00")  # the first reminder, by email
    store.tick("2026-03-04T12:00:00+00:00")  # WhatsApp (moved into the window) and Prime by SMS
    store.deliver("orders/paid", store.order("c-logs", "2026-03-04T14:00:00+01:00", email=EMAIL, phone=PHONE,
                                             customer={"id": 7731, "email": EMAIL, "first_name": FIRST,
                                                       "last_name": LAST}, billing_address=ADDRESS))  # fmt: skip
    sent = [m for m in store.messages(flow="recovery") if m["status"] == "sent"]
    assert {m["channel"] for m in sent} >= {"email", "sms"}  # the journey really reached her
    assert EMAIL in {m["to"] for m in store.outbox()}  # and the scan below looks for what was used

    lines = json_log.lines()  # each line parses as JSON, or this fails
    assert lines and all(line.keys() >= LINE_KEYS for line in lines)
    assert all(line["time"].endswith("Z") and line["time"][10] == "T" for line in lines)

    ingests = json_log.events("ingest")
    assert [(i["topic"], i["outcome"]) for i in ingests] == [
        ("checkouts/create", "processed"),
        ("orders/paid", "processed"),
    ]
    for line in ingests:
        assert line["shop"] == store.domain and isinstance(line["delivery_id"], int) and line["reason"]
        assert line["job_id"].startswith("ingest-")  # the RQ job it ran in

    [plan] = json_log.events("plan")
    assert (plan["shop"], plan["outcome"], plan["planned"], plan["moved"]) == (store.domain, "planned", 4, 0)
    assert isinstance(plan["journey_id"], int) and plan["reason"] == "planned: 4 new, 0 moved"

    sends = json_log.events("send")
    assert sorted(s["message_id"] for s in sends) == sorted(m["id"] for m in sent)
    for line in sends:
        assert line["shop"] == store.domain and line["outcome"] == "sent" and line["job_id"]
    assert {s["channel"] for s in sends} == {m["channel"] for m in sent}

    text = json_log.text().lower()
    secrets = (store.rt.settings.shopify_api_secret, store.rt.settings.secret_key)
    for value in (*PERSONAL, *secrets):
        assert value.lower() not in text, f"{value!r} is in a log line"


def test_an_unusable_payload_and_an_unreachable_checkout_log_why(store, json_log):
    store.deliver("checkouts/create", store.checkout("c-none", ABANDONED, email=None, phone=None, customer=None))
    response = store.post("checkouts/update", {"token": "t", "updated_at": "yesterday", "email": EMAIL})
    assert response.status_code == 200
    store.drain()

    [unreachable, broken] = json_log.events("ingest")
    assert (unreachable["outcome"], broken["outcome"]) == ("processed", "rejected")
    assert broken["reason"].startswith("unusable payload")
    [plan] = json_log.events("plan")
    assert (plan["outcome"], plan.get("journey_id"), plan["planned"]) == ("skipped", None, 0)  # no null values
    assert plan["reason"] == "not reachable: the checkout has no email or phone"
    assert EMAIL not in json_log.text()
