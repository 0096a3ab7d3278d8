"""One HTTP request on a requests session, without the session-level work our providers' calls never use.

`requests.Session.request` merges the session's cookie jar into a new jar, runs the environment
lookups (when `trust_env`), resolves redirects and hooks, and extracts cookies from the answer: about
a third of the client's CPU per call to the Admin API or Twilio (issue 13), for nothing our calls
use. `send` prepares the request with the session's default headers (User-Agent, Accept-Encoding...)
and hands it to the session's connection adapter, so the pooled connections, the TLS settings
(`verify`, `cert`), the timeouts and the exceptions (ConnectTimeout, ReadTimeout, ConnectionError)
are requests' own. No cookie is sent or kept (Shopify's GraphQL and Twilio's REST APIs use none).
A redirect, which they do not send either, is followed the usual way when `allow_redirects`: the
request is made again through `session.request` (the redirecting server did not act on it).

A session that still reads the environment (`trust_env`: a proxy is set there) goes the usual way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict

Timeout = tuple[float, float] | float | None


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: Timeout = None,
    json: Any = None,
    data: Any = None,
    params: Any = None,
    auth: Any = None,
    allow_redirects: bool = True,
) -> requests.Response:
    """The response to one request on `session`'s pooled connections, its body read."""
    if session.trust_env:
        return _usual(session, method, url, headers, timeout, json, data, params, auth, allow_redirects)
    merged: CaseInsensitiveDict[str] = CaseInsensitiveDict(session.headers)
    merged.update(headers or {})
    prepared = requests.PreparedRequest()
    prepared.prepare(
        method=method.upper(),
        url=url,
        headers=merged,
        params=params,
        data=data,
        json=json,
        auth=auth or session.auth,
    )
    adapter = session.get_adapter(url=prepared.url or url)
    response = adapter.send(
        prepared, stream=False, timeout=timeout, verify=session.verify, cert=session.cert, proxies=session.proxies
    )
    response.content  # noqa: B018 -- read the body now, as Session.send does, so the connection goes back to the pool
    if allow_redirects and response.is_redirect:
        return _usual(session, method, url, headers, timeout, json, data, params, auth, allow_redirects)
    return response


def _usual(session, method, url, headers, timeout, json, data, params, auth, allow_redirects) -> requests.Response:
    return session.request(
        method, url, headers=headers, json=json, data=data, params=params, auth=auth, timeout=timeout,
        allow_redirects=allow_redirects,
    )  # fmt: skip
