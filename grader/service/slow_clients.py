"""Read deadlines for uvicorn's HTTP/1.1 connections.

uvicorn waits for a request's head and body as long as the client likes: a connection that
sends half a header line and then nothing is held forever, and enough of them exhaust the file
descriptors (1,100 stopped the service at a 1024 limit). This protocol gives each request a
deadline: its head must arrive within ``header_timeout`` seconds of the connection being ready
for it (opened, or the previous response sent), its body within ``body_timeout`` seconds of
the head. A late head gets ``408`` and the connection closed (a connection that sent nothing is
just closed); a late body closes the connection (the route sees the client gone). Behind a
reverse proxy the proxy's own timeouts apply first (README, production set-up).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_TIMEOUT_TEXT = (
    "リクエストが時間内に届きませんでした。もう一度送信してください。\n"
    "The request did not arrive in time; send it again.\n"
).encode()
TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: " + str(len(_TIMEOUT_TEXT)).encode() + b"\r\n"
    b"connection: close\r\n\r\n" + _TIMEOUT_TEXT
)


class DeadlineHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for reading each request."""

    def __init__(self, *args, header_timeout: float, body_timeout: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self._deadline: asyncio.TimerHandle | None = None
        self._reading_body = False
        self._head_started = False  # some bytes of the awaited request have arrived

    def _arm(self, seconds: float, body: bool) -> None:
        self._disarm()
        self._reading_body = body
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._head_started and not self._reading_body:
            self.transport.write(TIMEOUT_RESPONSE)
        # a connection that sent nothing (a browser's spare one) is closed without an answer
        self.transport.close()

    def connection_made(self, transport) -> None:  # noqa: ANN001
        super().connection_made(transport)
        self._arm(self.header_timeout, body=False)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_started = True

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout, body=True)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_started = False  # until the next request's first bytes
        self._disarm()  # the whole request is in: the route takes as long as it takes

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)  # a next request already read: not waiting for one
        super().on_response_complete()
        if not pipelined and not self.transport.is_closing():
            self._arm(self.header_timeout, body=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
