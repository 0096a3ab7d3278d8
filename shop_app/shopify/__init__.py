"""Being a Shopify app: signatures (webhooks, app proxy, session tokens), offline tokens, installs and shops."""
