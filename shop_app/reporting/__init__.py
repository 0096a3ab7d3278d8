"""Read models for the merchant's figures: the validation cycle and the setup guide.

periods   the two windows compared (whole days in the shop's time zone) and the zone's offsets in them
cycle     the figures of the current and the previous window, and the daily series (SQL aggregates)
setup     the setup guide: each item done or not, from the shop's real state
present   the labels and the formatting the admin's Home page and `reclaim report` share
"""
