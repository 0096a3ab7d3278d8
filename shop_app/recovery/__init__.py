"""Revenue Recovery over the database: checkouts, orders, journeys, the outbox (the one owner
of a message's status), discounts and read models."""
