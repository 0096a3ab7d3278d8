"""Fault tests (issue 9, hardening): real processes killed, Redis flushed and restarted, PostgreSQL
connections terminated, tables locked, webhooks repeated by the thousand. Each test counts what
the database holds and what the provider received, prints the figures, and insists on
0 duplicates and 0 lost."""
