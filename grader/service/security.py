"""Browser-facing defences applied to every response: security headers and the same-origin
check on state-changing web forms (CSRF).

Both are ASGI middlewares, so every route gets them, including routes added later, and
event streams pass through unbuffered.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from grader.service.errors import ApiError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Sent unless the route set its own value (the feedback report sets a stricter CSP that lets
# the site's own submission page frame it).
DEFAULT_HEADERS = {
    b"content-security-policy": b"frame-ancestors 'none'",
    b"x-frame-options": b"DENY",
    b"x-content-type-options": b"nosniff",
    # not "no-referrer": under that policy a browser sends "Origin: null" with the site's own
    # form posts, which SameOriginForms must refuse
    b"referrer-policy": b"same-origin",
    # pages and API answers carry scores, feedback and tokens: never kept in any cache
    b"cache-control": b"no-store",
}
# Static files hold nothing personal and may be cached.
CACHEABLE_PREFIXES = ("/static/", "/static-offline-docs/")


def is_api(path: str) -> bool:
    return path.startswith("/api/") or path in ("/healthz", "/readyz")


class SecurityHeaders:
    """Adds :data:`DEFAULT_HEADERS` to every HTTP response that lacks them."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        cacheable = scope["path"].startswith(CACHEABLE_PREFIXES)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                for name, value in DEFAULT_HEADERS.items():
                    if name in present or (cacheable and name == b"cache-control"):
                        continue
                    headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def same_origin(request: Request) -> bool:
    """The request's Origin header names this server. A missing or ``null`` Origin (a
    sandboxed frame, a ``data:`` page, a client that hides it) is not accepted: every
    browser that can carry the session cookie sends Origin on a POST."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return False
    parts = urlsplit(origin)
    return bool(parts.scheme and parts.netloc) and parts.netloc == request.url.netloc


class SameOriginForms:
    """Refuses (403 ``cross_site``) every state-changing request to the web UI whose Origin
    is not this server, before the route runs or the body is read. The API is left to its
    own rule: writes there need a bearer token, which a forged request cannot carry."""

    def __init__(self, app: Any, error_page) -> None:  # noqa: ANN001
        self.app = app
        self.error_page = error_page

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if (
            scope["type"] != "http"
            or scope["method"] in SAFE_METHODS
            or is_api(scope["path"])
            or same_origin(Request(scope))
        ):
            return await self.app(scope, receive, send)
        request = Request(scope)
        # the page looks up the session (a database read): keep it off the event loop
        page = await run_in_threadpool(self.error_page, request, ApiError("cross_site"))
        page.headers["connection"] = "close"  # the body is never read
        await page(scope, receive, send)
