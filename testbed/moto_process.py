"""A moto server with the extensions in a process of its own, for state that must outlive the tests around it.

moto keeps its backends per process: `mock_aws` and `/moto-api/reset` empty every backend of the process they run
in, so a session fixture's server in the pytest worker loses its buckets, tables and secret whenever another test
of that worker starts. Here nothing else runs in the server's process. What a test would otherwise do to moto's
in-process backend (plan an endpoint update, fail an endpoint) is a POST to the control address.

Run as `python -m testbed.moto_process`: it prints one JSON line with both addresses and stops when stdin closes.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

from testbed.aws import REGION, moto_server
from testbed.moto_sagemaker import endpoint_updates


def _plan_update(endpoint: str, outcome: str, polls: int) -> None:
    endpoint_updates(REGION).plan(endpoint, outcome, polls=polls)  # type: ignore[arg-type]


def _fail_endpoint(endpoint: str, reason: str) -> None:
    served = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].endpoints[endpoint]
    served.endpoint_status, served.failure_reason = "Failed", reason


CONTROLS: dict[str, Callable[..., None]] = {"plan-update": _plan_update, "fail-endpoint": _fail_endpoint}


class _Control(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        control = CONTROLS.get(self.path.strip("/"))
        if control is None:
            self.send_error(404)
            return
        arguments: dict[str, Any] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        try:
            control(**arguments)
        except (KeyError, TypeError, ValueError) as error:
            self.send_error(400, str(error))
            return
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the pytest worker reads this process's stdout for the addresses only."""


def main() -> None:
    with moto_server() as server:
        control = ThreadingHTTPServer(("127.0.0.1", 0), _Control)
        threading.Thread(target=control.serve_forever, daemon=True).start()
        print(json.dumps({"url": server.url, "control": f"http://127.0.0.1:{control.server_port}"}), flush=True)
        sys.stdin.read()  # the parent holds stdin open for as long as it uses the server
        control.shutdown()


if __name__ == "__main__":
    main()
