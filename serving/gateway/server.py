"""Serving the app with uvicorn: one process, or several workers that each own a listening socket.

Sockets are created here with an explicit IPPROTO_TCP because asyncio enables TCP_NODELAY only on sockets that say
so; uvicorn's own multi-worker socket does not, and with Nagle's algorithm on, every keep-alive response (headers and
body are written separately) waits for the client's delayed ACK, about 40 ms on Linux.

Several workers each bind the port with SO_REUSEPORT, so the kernel spreads new connections evenly across them. With
one shared socket, the first worker to wake accepts every connection waiting at that moment: a load balancer's burst
of new connections can land on one worker while the others idle.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import threading

import uvicorn

from .http_protocol import RequestLimits, protocol_with_limits
from .json_logging import configure_logging
from .settings import Settings

# Below ECS's default 30 s stop timeout, so in-flight requests finish before SIGKILL.
GRACEFUL_SHUTDOWN_SECONDS = 20
SUPERVISION_INTERVAL_SECONDS = 0.5


def listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _uvicorn_config(settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        f"{__package__}.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        timeout_keep_alive=settings.keep_alive_seconds,
        http=protocol_with_limits(
            RequestLimits(
                header_read_timeout=settings.header_read_timeout_seconds,
                body_read_timeout=settings.body_read_timeout_seconds,
                max_header_bytes=settings.max_header_bytes,
                max_header_count=settings.max_header_count,
            )
        ),
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        lifespan="on",
        access_log=False,  # the gateway writes its own, with the request id and the variant
        log_config=None,
        server_header=False,
        proxy_headers=False,  # the gateway makes no decision on the client address, so it trusts no proxy header
    )


def run_worker(settings: Settings, reuse_port: bool) -> None:
    configure_logging(settings.log_level)
    sock = listening_socket(settings.host, settings.port, reuse_port)
    uvicorn.Server(_uvicorn_config(settings)).run(sockets=[sock])


def run_workers(settings: Settings) -> int:
    """Start the workers and watch them: SIGTERM/SIGINT stop them gracefully; a worker that dies stops them all and
    exits non-zero, so the orchestrator replaces the task rather than leaving it at reduced capacity."""
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=run_worker, args=(settings, True), name=f"gateway-worker-{index}")
        for index in range(settings.workers)
    ]
    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    for worker in workers:
        worker.start()
    while not stop.wait(SUPERVISION_INTERVAL_SECONDS) and all(worker.is_alive() for worker in workers):
        pass
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        worker.join()
    return 0 if stop.is_set() else 1
