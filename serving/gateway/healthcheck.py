"""`python -m gateway.healthcheck`: the container's own liveness probe (Docker HEALTHCHECK, ECS healthCheck).

It asks only whether the process answers; whether the endpoint is reachable is the load balancer's question
(`/health/ready`), and a container restarted for an endpoint outage would not bring the endpoint back.
"""

from __future__ import annotations

import os
import sys
import urllib.request

TIMEOUT_SECONDS = 2


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8080')}/health/live"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            return 0 if response.status == 200 else 1
    except OSError as error:
        print(f"healthcheck: {url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
