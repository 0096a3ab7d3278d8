"""Which transport serves a message: the transport registry, shops' provider accounts,
browser push subscriptions and VAPID keys."""
