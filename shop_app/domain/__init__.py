"""Pure rules of Reclaim: standard library only, time is always passed in.

Nothing in this package may import Flask, SQLAlchemy, RQ, Redis, Twilio or do
I/O; tests/test_layering.py enforces it.
"""
