"""shop_app.shopify.session_tokens: each rule has a token that is valid in every other respect, so the
test fails if that one rule is removed; the reason is matched so the right rule is the one refusing."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from shop_app.errors import InvalidSessionToken
from shop_app.shopify.session_tokens import LEEWAY_SECONDS, SessionToken, verify_session_token
from tests.tokens import b64url, encode, segment, session_token, sign

API_KEY = "test-api-key"
SECRET = "current-secret"
PREVIOUS = "previous-secret"
SHOP = "demo-shop.myshopify.com"
NOW = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
T = NOW.timestamp()


def token(**kwargs) -> str:
    kwargs.setdefault("now", T)
    kwargs.setdefault("secret", SECRET)
    kwargs.setdefault("api_key", API_KEY)
    return session_token(kwargs.pop("shop", SHOP), **kwargs)


def verify(raw: str, *, secrets=(SECRET, None), now: datetime = NOW) -> SessionToken:
    return verify_session_token(raw, api_key=API_KEY, secrets=secrets, now=now)


def refused(raw: str, match: str, **kwargs) -> None:
    with pytest.raises(InvalidSessionToken, match=match) as caught:
        verify(raw, **kwargs)
    assert caught.value.reason  # the reason is kept for logs and the 401 body


# --- the happy path ------------------------------------------------------------------------------


def test_a_valid_token_gives_shop_user_session_and_expiry():
    verified = verify(token(sub="1001", sid="sess-9", exp=T + 55))
    assert verified == SessionToken(
        shop=SHOP, user_id="1001", session_id="sess-9", expires_at=NOW + timedelta(seconds=55)
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        verified.shop = "other.myshopify.com"  # type: ignore[misc]


def test_shop_comes_from_dest_lower_cased():
    raw = token(iss="https://Demo-Shop.myshopify.com/admin", dest="https://DEMO-SHOP.myshopify.com")
    assert verify(raw).shop == SHOP


def test_signature_math_matches_a_published_hs256_vector():
    # jwt.io's example token and secret: the signature must check out, so the refusal is about claims.
    published = (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
        ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    )
    refused(published, "missing claim", secrets=("your-256-bit-secret",))
    refused(published, "signature", secrets=("another-secret",))


# --- signature and algorithm -------------------------------------------------------------------


def test_forged_signature_is_refused():
    refused(token(secret="not-the-app-secret"), "signature does not match")


def test_payload_changed_after_signing_is_refused():
    good = token()
    header, _, signature = good.split(".")
    forged_claims = segment(
        {**_claims(good), "dest": "https://victim.myshopify.com", "iss": "https://victim.myshopify.com/admin"}
    )
    refused(f"{header}.{forged_claims}.{signature}", "signature does not match")


def test_previous_secret_is_accepted_during_rotation():
    assert verify(token(secret=PREVIOUS), secrets=(SECRET, PREVIOUS)).shop == SHOP


def test_previous_secret_is_not_accepted_once_rotation_is_over():
    refused(token(secret=PREVIOUS), "signature does not match", secrets=(SECRET, None))


def test_alg_none_is_refused_even_with_a_correct_hmac():
    # Header lies ("none") but the HMAC is right: only the algorithm rule can refuse this.
    refused(token(header={"alg": "none", "typ": "JWT"}), "algorithm 'none'")


def test_alg_none_with_empty_signature_is_refused():
    claims = segment(_claims(token()))
    refused(f"{segment({'alg': 'none', 'typ': 'JWT'})}.{claims}.", "not a JWT")


@pytest.mark.parametrize("alg", ["HS512", "HS384", "RS256", "ES256", "hs256", None])
def test_any_other_algorithm_header_is_refused(alg):
    header = {"typ": "JWT"} if alg is None else {"alg": alg, "typ": "JWT"}
    refused(token(header=header), "algorithm")


def test_a_token_really_signed_with_hs512_is_refused():
    import hashlib
    import hmac

    signing_input = f"{segment({'alg': 'HS512', 'typ': 'JWT'})}.{segment(_claims(token()))}"
    signature = b64url(hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha512).digest())
    refused(f"{signing_input}.{signature}", "algorithm 'HS512'")


def test_critical_header_extensions_are_refused():
    refused(token(header={"alg": "HS256", "typ": "JWT", "crit": ["exp"]}), "crit")


# --- audience ----------------------------------------------------------------------------------


def test_wrong_audience_is_refused():
    refused(token(aud="another-apps-key"), "audience")


@pytest.mark.parametrize("aud", [[API_KEY], None, 42, "", "\ud800"])
def test_audience_must_be_the_api_key_string(aud):
    """A lone surrogate ("\\ud800" in the JSON) used to fail encoding the claim: a 500, not a 401."""
    refused(token(aud=aud), "audience")


# --- time --------------------------------------------------------------------------------------


def test_expired_beyond_leeway_is_refused():
    refused(token(exp=T - LEEWAY_SECONDS - 1, nbf=T - 120), "expired")


@pytest.mark.parametrize("seconds_ago", [0, 5, LEEWAY_SECONDS])
def test_expired_within_leeway_is_accepted(seconds_ago):
    assert verify(token(exp=T - seconds_ago, nbf=T - 120)).expires_at == NOW - timedelta(seconds=seconds_ago)


def test_leeway_is_ten_seconds():
    assert LEEWAY_SECONDS == 10


def test_not_before_in_the_future_beyond_leeway_is_refused():
    refused(token(nbf=T + LEEWAY_SECONDS + 1, exp=T + 120), "not valid before")


@pytest.mark.parametrize("seconds_ahead", [1, LEEWAY_SECONDS])
def test_not_before_slightly_in_the_future_is_accepted(seconds_ahead):
    assert verify(token(nbf=T + seconds_ahead, exp=T + 120)).shop == SHOP


def test_nbf_may_be_absent_but_exp_may_not():
    assert verify(token(drop=("nbf",))).shop == SHOP
    refused(token(drop=("exp",)), "missing claim.*exp")


@pytest.mark.parametrize("claim", ["exp", "nbf"])
@pytest.mark.parametrize("value", ["1772478000", True, None, [1]])
def test_time_claims_must_be_numbers(claim, value):
    refused(token(**{claim: value}), f"claim {claim} must be a number")


def test_absurd_expiry_is_refused_not_crashed():
    refused(token(exp=1e300), "out of range")


@pytest.mark.parametrize("claim", ["exp", "nbf"])
def test_an_integer_beyond_any_float_is_refused_not_crashed(claim):
    """JSON integers are unbounded; 10**400 used to raise OverflowError (a 500) before any check."""
    refused(token(**{claim: 10**400}), f"claim {claim} is out of range")


def test_now_must_be_timezone_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(token(), now=NOW.replace(tzinfo=None))


# --- required claims ---------------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["iss", "dest", "aud", "sub", "exp", "jti", "sid"])
def test_each_required_claim_must_be_present(claim):
    refused(token(drop=(claim,)), f"missing claim\\(s\\): {claim}$")


@pytest.mark.parametrize("claim", ["sub", "jti", "sid"])
@pytest.mark.parametrize("value", ["", 42, None, ["x"]])
def test_identity_claims_must_be_non_empty_strings(claim, value):
    refused(token(**{claim: value}), f"claim {claim} must be a non-empty string")


@pytest.mark.parametrize("claim", ["sub", "jti", "sid"])
@pytest.mark.parametrize("value", ["4\ud8002", "42\x00", "\x1b[2J"])
def test_identity_claims_must_be_printable(claim, value):
    """`sub` is stored as who lifted a suppression: no database takes a lone surrogate or a NUL."""
    refused(token(**{claim: value}), f"claim {claim} must be a non-empty string of printable characters")


# --- iss / dest --------------------------------------------------------------------------------


def test_iss_and_dest_on_different_shops_are_refused():
    refused(token(iss="https://other-shop.myshopify.com/admin"), "name different shops")
    refused(token(dest="https://other-shop.myshopify.com"), "name different shops")


@pytest.mark.parametrize(
    "host",
    [
        "evil.example.com",
        "demo-shop.myshopify.com.evil.com",
        "demo-shop.shopify.com",
        "admin.shopify.com",
        "-bad-.myshopify.com",
        "demo_shop.myshopify.com",
    ],
)
def test_non_myshopify_shops_are_refused_even_when_iss_and_dest_agree(host):
    refused(token(iss=f"https://{host}/admin", dest=f"https://{host}"), "not on a \\*\\.myshopify\\.com shop")


def test_non_myshopify_dest_alone_is_refused():
    refused(token(dest="https://evil.example.com"), "dest is not on a")


def test_non_myshopify_iss_alone_is_refused():
    refused(token(iss="https://evil.example.com/admin"), "iss is not on a")


@pytest.mark.parametrize(
    "dest",
    [
        "http://demo-shop.myshopify.com",  # not https
        "demo-shop.myshopify.com",  # not a URL
        "https://demo-shop.myshopify.com:8443",  # a port
        "https://attacker@demo-shop.myshopify.com",  # user info
        42,
    ],
)
def test_dest_must_be_a_plain_https_shop_url(dest):
    refused(token(dest=dest), "claim dest")


# --- malformed input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "eyJ.eyJ.",
        "a b.c.d",
        "YQ==.YQ==.YQ==",  # padded
        "x" * 9000,
    ],
)
def test_malformed_tokens_are_refused(raw):
    refused(raw, ".")


def test_non_string_token_is_refused():
    refused(None, "no token")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "header_or_claims",
    ["header", "claims"],
)
@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"', b"\xff\xfe", b'{"a": NaN}'])
def test_segments_must_be_json_objects(header_or_claims, body):
    good_header, good_claims = segment({"alg": "HS256", "typ": "JWT"}), segment(_claims(token()))
    header = b64url(body) if header_or_claims == "header" else good_header
    claims = b64url(body) if header_or_claims == "claims" else good_claims
    signing_input = f"{header}.{claims}"
    refused(f"{signing_input}.{sign(signing_input, SECRET)}", "header|payload")


def test_duplicate_claims_are_refused():
    signing_input = (
        segment({"alg": "HS256", "typ": "JWT"})
        + "."
        + b64url(b'{"dest": "https://demo-shop.myshopify.com", "dest": "https://other.myshopify.com"}')
    )
    refused(f"{signing_input}.{sign(signing_input, SECRET)}", "duplicate key")


def test_a_secret_is_required():
    with pytest.raises(ValueError, match="secret"):
        verify(token(), secrets=(None, ""))


def test_encode_helper_makes_what_the_verifier_reads():
    # Guard against the test helper and the verifier agreeing on something non-standard.
    raw = encode({"alg": "HS256", "typ": "JWT"}, _claims(token()), SECRET)
    assert verify(raw).shop == SHOP


def _claims(raw: str) -> dict:
    import base64
    import json

    payload = raw.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
