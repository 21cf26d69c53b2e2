"""A local stand-in for the SageMaker runtime's InvokeEndpoint, for development, tests and the load benchmark.

Point the gateway at it with `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://127.0.0.1:<port>`. It answers each CSV row
with a score (the row's first feature clipped to [0, 1], so a caller chooses the label it will get) in the request's
format (`safedeploy/model_wire.py`: CSV or JSON; a value model gets the same numbers), names the
serving variant in the same header SageMaker uses, and rotates through several variants to imitate a traffic split.
Scripted replies (errors, slow answers) are served first. It is a bare asyncio protocol rather than a web framework
so that, in the benchmark, it costs the shared CPU as little as possible. Not part of the gateway image.

    python -m serving.stub_endpoint --port 8081 --latency-ms 5 --variant v1 --variant v2
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus

from safedeploy.model_wire import CSV, JSON, decode_rows, encode_answers

VARIANT_HEADER = "x-Amzn-Invoked-Production-Variant"
HEADER_END = b"\r\n\r\n"


@dataclass(frozen=True)
class StubReply:
    status: int = 200
    body: bytes | None = None  # None: one score per row, as the model would answer
    variant: str | None = None  # None: the next variant of the rotation
    delay_seconds: float | None = None  # None: the stub's latency
    error_type: str = "InternalFailure"
    message: str = "stub error"


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def _error_body(reply: StubReply) -> bytes:
    return json.dumps({"ErrorCode": reply.error_type, "message": reply.message}).encode()


def score_rows(body: bytes, content_type: str = CSV) -> bytes:
    """The first feature of each row, clipped to [0, 1], as the model's probability of class 1."""
    scores = [min(max(row[0], 0.0), 1.0) for row in decode_rows(content_type, body)]
    return encode_answers(content_type, scores)


@dataclass
class StubBehaviour:
    latency_seconds: float = 0.0
    variants: tuple[str, ...] = ("AllTraffic",)
    scripted: deque[StubReply] = field(default_factory=deque)
    received: list[ReceivedRequest] = field(default_factory=list)
    record: bool = True

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget scripted replies and received requests, and restart the variant rotation."""
        self.scripted.clear()
        self.received.clear()
        self._rotation = itertools.cycle(self.variants)

    def next_reply(self) -> StubReply:
        return self.scripted.popleft() if self.scripted else StubReply()

    def response(self, reply: StubReply, request: ReceivedRequest) -> bytes:
        content_type = JSON if request.headers.get("content-type") == JSON else CSV
        headers = {"Content-Type": content_type}
        if reply.status == 200:
            body = reply.body if reply.body is not None else score_rows(request.body, content_type)
        else:
            body = _error_body(reply)
            headers = {"Content-Type": "application/json", "x-amzn-ErrorType": f"{reply.error_type}:"}
        headers[VARIANT_HEADER] = reply.variant or next(self._rotation)
        headers["Content-Length"] = str(len(body))
        head = f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        return (head + "\r\n").encode() + body


class _StubProtocol(asyncio.Protocol):
    def __init__(self, behaviour: StubBehaviour) -> None:
        self._behaviour = behaviour
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(HEADER_END)) >= 0:
            lines = self._buffer[:end].decode("latin-1").split("\r\n")
            headers = {name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in lines[1:])}
            size = int(headers.get("content-length", "0"))
            if len(self._buffer) < end + 4 + size:
                return
            body = self._buffer[end + 4 : end + 4 + size]
            self._buffer = self._buffer[end + 4 + size :]
            method, path, _ = lines[0].split(" ", 2)
            self._answer(ReceivedRequest(method, path, headers, body))

    def _answer(self, request: ReceivedRequest) -> None:
        behaviour = self._behaviour
        if behaviour.record:
            behaviour.received.append(request)
        reply = behaviour.next_reply()
        delay = behaviour.latency_seconds if reply.delay_seconds is None else reply.delay_seconds
        asyncio.get_running_loop().call_later(delay, self._send, behaviour.response(reply, request))

    def _send(self, response: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(response)


async def _serve(behaviour: StubBehaviour, host: str, port: int) -> asyncio.Server:
    return await asyncio.get_running_loop().create_server(lambda: _StubProtocol(behaviour), host, port)


@contextmanager
def running_stub(behaviour: StubBehaviour, host: str = "127.0.0.1") -> Iterator[str]:
    """The stub on a free port, in a thread of this process; yields its URL."""
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(_serve(behaviour, host, 0))
    thread = threading.Thread(target=loop.run_forever, name="stub-endpoint", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.sockets[0].getsockname()[1]}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        server.close()
        loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--variant", action="append", help="repeat to rotate through several variants")
    args = parser.parse_args()
    behaviour = StubBehaviour(args.latency_ms / 1000, tuple(args.variant or ["AllTraffic"]), record=False)

    async def forever() -> None:
        server = await _serve(behaviour, args.host, args.port)
        print(f"stub endpoint on http://{args.host}:{server.sockets[0].getsockname()[1]}", flush=True)
        await server.serve_forever()

    asyncio.run(forever())


if __name__ == "__main__":
    main()
