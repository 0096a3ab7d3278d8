"""Inbound SMS/WhatsApp keywords: STOP, START, HELP, in the languages we write in. Pure.

Twilio answers the standard English keywords itself on long codes and blocks later sends, and
marks them with `OptOutType` when Advanced Opt-Out is on
(twilio.com/docs/messaging/tutorials/advanced-opt-out). We keep our own list anyway: the
opt-out is per merchant, WhatsApp has no Twilio STOP handling, and a Spanish-speaking customer
writes BAJA, not STOP.
"""

from __future__ import annotations

import enum
import unicodedata


class Intent(enum.StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"


_WORDS: dict[Intent, frozenset[str]] = {
    Intent.STOP: frozenset(
        {"stop", "stopall", "unsubscribe", "end", "quit", "cancel", "revoke", "optout", "baja", "parar", "alto"}
    ),
    Intent.START: frozenset({"start", "yes", "unstop", "alta", "si"}),
    Intent.HELP: frozenset({"help", "info", "ayuda"}),
}
_OPT_OUT_TYPES = {"STOP": Intent.STOP, "START": Intent.START, "HELP": Intent.HELP}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip().strip(".!¡¿?").lower()


def intent_of(body: str | None, opt_out_type: str | None = None) -> Intent | None:
    """The keyword's meaning: Twilio's own classification first, else the whole message as one word.

    Only a message that *is* the keyword counts: "please stop the music" is not an opt-out.
    """
    if opt_out_type and opt_out_type.upper() in _OPT_OUT_TYPES:
        return _OPT_OUT_TYPES[opt_out_type.upper()]
    word = _fold(body or "")
    for intent, words in _WORDS.items():
        if word in words:
            return intent
    return None
