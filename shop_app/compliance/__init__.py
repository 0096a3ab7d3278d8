"""What the law and the customer allow: consent records, the suppression list, and privacy requests (export, redact)."""
