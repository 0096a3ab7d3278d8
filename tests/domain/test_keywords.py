import pytest

from shop_app.domain.keywords import Intent, intent_of


@pytest.mark.parametrize(
    "body, expected",
    [
        ("STOP", Intent.STOP),
        ("  stop. ", Intent.STOP),
        ("Baja", Intent.STOP),
        ("unsubscribe", Intent.STOP),
        ("START", Intent.START),
        ("Sí", Intent.START),
        ("help", Intent.HELP),
        ("AYUDA", Intent.HELP),
        ("please stop the music", None),
        ("", None),
        (None, None),
    ],
)
def test_keywords(body, expected):
    assert intent_of(body) is expected


def test_twilio_opt_out_type_wins_over_the_text():
    assert intent_of("arrêtez", "STOP") is Intent.STOP
    assert intent_of("STOP", "HELP") is Intent.HELP
    assert intent_of("STOP", "unknown-type") is Intent.STOP
