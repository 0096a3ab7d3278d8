"""RQ jobs and the worker/scheduler entry points: ingest, dispatch, send, reconcile."""
