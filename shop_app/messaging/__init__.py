"""What a message says: composed from sandboxed templates (the defaults or the merchant's),
WhatsApp templates, tracked links and unsubscribe links."""
