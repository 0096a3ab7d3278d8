"""Reading a request's body whole, within a byte limit, however the client sent it.

With a Content-Length, Werkzeug refuses an over-long body itself. A chunked body has no
length: the server hands over the de-chunked stream (`wsgi.input_terminated`), and
Werkzeug's own limit then cuts it short without a word. Here it is read one byte past
the limit instead, and refused with 413.
"""

from __future__ import annotations

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge

READ_SIZE = 64 * 1024


def read_body(request: Request, limit: int) -> bytes:
    """The raw body, or RequestEntityTooLarge (413) when it is longer than `limit` bytes."""
    length = request.content_length
    if length is not None:
        if length > limit:
            raise RequestEntityTooLarge(f"body larger than {limit} bytes")
        return request.get_data(cache=False)
    if "wsgi.input_terminated" not in request.environ:
        return b""  # no length and no terminated stream: nothing can be read safely
    stream = request.environ["wsgi.input"]
    parts, size = [], 0
    while size <= limit:
        part = stream.read(min(READ_SIZE, limit + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    if size > limit:
        raise RequestEntityTooLarge(f"body larger than {limit} bytes")
    return b"".join(parts)
