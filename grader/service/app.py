"""Assemble the FastAPI app: database (migrated), catalog, routes, error format, size cap."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from grader import __version__
from grader.engine.upload import too_large
from grader.jail import sandbox_policy
from grader.service import (
    api,
    routes_downloads,
    routes_exports,
    routes_instructor,
    routes_settings,
    web,
)
from grader.service.catalog import Catalog
from grader.service.config import ServiceConfig
from grader.service.course_settings import import_policy_file_at_start
from grader.service.db import make_engine, make_sessionmaker, migrate
from grader.service.errors import ApiError
from grader.service.security import SameOriginForms, SecurityHeaders
from grader.service.state import AppState

log = logging.getLogger("grader.service")

# Multipart framing and the assignment field on top of the notebook itself.
FORM_OVERHEAD = 64 * 1024


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuse request bodies over the cap while they stream in, before any parsing or
    spooling to disk (Content-Length is checked first, chunked bodies are counted)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._refuse(scope, receive, send)
        seen = 0
        started = False
        tripped = False

        async def counted_receive():
            nonlocal seen, tripped
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    tripped = True
                    raise _TooLarge()
            return message

        async def tracking_send(message):
            nonlocal started
            if tripped and not started:
                # FastAPI turns any error while parsing a form into its own 400 response:
                # drop it, the 413 below replaces it
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracking_send)
        except _TooLarge:
            pass
        if tripped and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope, receive, send) -> None:  # noqa: ANN001
        """413 before the route runs: the site's HTML error page for the web UI (a browser
        must not land on a raw JSON body), the JSON error body for the API."""
        err = ApiError.rejected(too_large(None, self.limit - FORM_OVERHEAD))
        request = Request(scope)
        if web.wants_html(request):
            # the page looks up the session (a database read): keep it off the event loop
            page = await run_in_threadpool(web.error_page, request, err)
            page.headers["connection"] = "close"  # the rest of the body is never read
            return await page(scope, receive, send)
        body = json.dumps(err.body(), ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": err.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def create_app(
    config: ServiceConfig | None = None,
    *,
    catalog_source: Callable[[], Iterable[Any]] | None = None,
    sandbox_mode: str | None = None,
) -> FastAPI:
    """Build the app. The database is migrated here, so a fresh state directory just works."""
    config = config or ServiceConfig()
    config.ensure_home()
    engine = make_engine(config.db_url)
    migrate(engine)
    state = AppState(
        config=config,
        engine=engine,
        sessions=make_sessionmaker(engine),
        catalog=Catalog(catalog_source),
        sandbox_mode=sandbox_mode or sandbox_policy(allow_unsandboxed=False).mode,
    )
    with state.sessions.begin() as s:
        known = list(state.catalog.assignments)
        if import_policy_file_at_start(s, config.policy_file, known, state.catalog.reveals):
            log.info(
                "course settings imported from %s (edit them in the UI now)", config.policy_file
            )
    # /docs and /redoc from the package's own copies of Swagger UI and ReDoc: no script from
    # a public CDN runs on the service's origin
    app = FastAPIOffline(
        title="深層学習 Part 2 grader",
        version=__version__,
        description="Submit notebooks, follow grading, read feedback; instructor gradebook.",
    )
    app.state.grader = state

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        if web.wants_html(request):
            return web.error_page(request, exc)
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
        err = ApiError("invalid_request", detail=f"{where}: {first.get('msg', 'invalid')}")
        return JSONResponse(err.body(), status_code=err.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            err = ApiError("not_found")
            if web.wants_html(request):
                return web.error_page(request, err)
            return JSONResponse(err.body(), status_code=404)
        body = {
            "error": {
                "code": f"http_{exc.status_code}",
                "message": {"ja": str(exc.detail), "en": str(exc.detail)},
            },
            "detail": str(exc.detail),
        }
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    app.include_router(api.health)
    app.include_router(api.router)
    app.include_router(routes_downloads.router)
    app.include_router(routes_settings.router)
    app.include_router(routes_exports.router)
    app.include_router(routes_instructor.router)
    web.mount(app)  # the static files and the page routers
    app.add_middleware(BodySizeLimit, limit=config.max_upload_bytes + FORM_OVERHEAD)
    # the last added runs first: forged forms are refused before their body is read, and
    # every answer (refusals included) gets the security headers
    app.add_middleware(SameOriginForms, error_page=web.error_page)
    app.add_middleware(SecurityHeaders)
    return app
