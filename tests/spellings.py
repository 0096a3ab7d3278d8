"""Hypothesis strategies for the spellings of one email and one phone number that the address
rules (shop_app/domain/addresses.py) treat as the same address, with near misses that are not:
shared by the redact property tests (kept webhook bodies, and every other stored text)."""

from __future__ import annotations

from hypothesis import strategies as st

from shop_app.compliance import erasure
from shop_app.domain import addresses as address_rules

#: Characters re.IGNORECASE matches with a letter of an email that SQL's lower() may not fold.
LOOKALIKES = {"k": "kK\u212a", "i": "iI\u0130\u0131", "s": "sS\u017f", "æ": "æÆ"}
SEPARATORS = list(erasure._phone_separators())


@st.composite
def email_spellings(draw: st.DrawFn, email: str) -> str:
    letters = [draw(st.sampled_from(LOOKALIKES.get(c, c + c.upper()))) for c in email]
    if draw(st.booleans()):  # a near miss
        letters[draw(st.integers(0, len(letters) - 1))] = draw(st.sampled_from("xyz_%"))
    return "".join(letters)


@st.composite
def phone_spellings(draw: st.DrawFn, phone: str) -> str:
    digits = draw(st.sampled_from(sorted(address_rules.phone_spellings(phone)) + ["600111223", "34600111"]))
    gaps = [draw(st.lists(st.sampled_from(SEPARATORS), max_size=3).map("".join)) for _ in digits]
    if draw(st.booleans()):  # a near miss
        gaps[draw(st.integers(0, len(gaps) - 2))] = draw(st.sampled_from(["x", "0", "+", "    "]))
    return "".join(digit + gap for digit, gap in zip(digits, gaps, strict=True))
