"""What a message says: composing it from sandboxed templates (defaults or the merchant's), WhatsApp templates, tracked links and unsubscribe links."""
