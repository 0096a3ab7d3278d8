"""Development stand-ins for outside systems, for tests and `reclaim demo` only.

Nothing here is imported by the production code paths: a development server answers
the way Shopify does so the real adapters can be exercised over real HTTP.
"""
