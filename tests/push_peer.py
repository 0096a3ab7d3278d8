"""A real Web Push peer for tests: a push service on 127.0.0.1 and a browser's side of a subscription.

`PushService` records every request and answers 201 with a Location, or whatever status
(and headers) the test sets. `Browser` holds what a user agent holds: a P-256 key pair and a
16-octet auth secret. It hands out the subscription, decrypts bodies with http_ece
(aes128gcm, RFC 8291) and checks the VAPID `Authorization` header (RFC 8292) itself:
the JWT's ES256 signature against the `k` key, returning the claims.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class Answer:
    status: int = 201
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class PushService:
    """A push service on 127.0.0.1: `with PushService() as push: …`, then `push.received`."""

    def __init__(self):
        self.received: list[Received] = []
        self.answer = Answer()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def endpoint(self, name: str = "sub-1") -> str:
        return f"{self.origin}/push/{name}"

    def answer_with(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.answer = Answer(status, dict(headers or {}), body)

    def _handler(self):
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                with service._lock:
                    service.received.append(Received(self.path, headers, body))
                    answer = service.answer
                self.send_response(answer.status)
                extra = dict(answer.headers)
                if answer.status == 201 and "Location" not in extra:
                    extra["Location"] = f"{service.origin}/message/{len(service.received)}"
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args):  # keep test output clean
                pass

        return Handler

    def __enter__(self) -> PushService:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class Browser:
    """The user agent's half of one subscription."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = os.urandom(16)

    @property
    def subscription(self) -> dict:
        """What PushSubscription.toJSON() gives the page."""
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth_secret)},
        }

    def decrypt(self, body: bytes) -> bytes:
        """The plaintext of an aes128gcm body (the sender's key comes from the record header)."""
        return http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm")

    def payload(self, received: Received) -> dict:
        return json.loads(self.decrypt(received.body))


def vapid_parts(authorization: str) -> dict[str, str]:
    """`vapid t=<jwt>, k=<key>` → {"t": …, "k": …}; fails for any other scheme."""
    scheme, _, params = authorization.partition(" ")
    if scheme.lower() != "vapid":
        raise AssertionError(f"not a VAPID authorization: {authorization[:40]!r}")
    parts = {}
    for item in params.split(","):
        name, _, value = item.strip().partition("=")
        parts[name] = value
    if not parts.get("t") or not parts.get("k"):
        raise AssertionError("VAPID authorization without t= and k=")
    return parts


def verify_vapid(authorization: str) -> dict:
    """Check the JWT's ES256 signature with the `k` public key; return its claims."""
    parts = vapid_parts(authorization)
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(parts["k"]))
    header_b64, claims_b64, signature_b64 = parts["t"].split(".")
    header = json.loads(unb64url(header_b64))
    if header.get("alg") != "ES256":
        raise AssertionError(f"JWT alg is {header.get('alg')!r}, not ES256")
    signature = unb64url(signature_b64)
    if len(signature) != 64:
        raise AssertionError("an ES256 JWT signature is r||s, 64 octets")
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        key.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AssertionError("the VAPID JWT signature does not verify with its k key") from None
    return json.loads(unb64url(claims_b64))
