"""Billing with Shopify App Pricing: the app's plans, the shop's subscription, the monthly journey limit."""
