"""`python -m gateway`: check the configuration, then serve (see `server.py`)."""

from __future__ import annotations

import os
import sys

from safedeploy.errors import ConfigError

from .json_logging import configure_logging
from .server import run_worker, run_workers
from .settings import load_settings
from .signing_secret import resolve_signing_secret


def main() -> int:
    try:
        settings = load_settings(os.environ)
        configure_logging(settings.log_level)
        secret = resolve_signing_secret(os.environ, settings.region)
    except ConfigError as error:
        print(f"gateway: configuration error: {error}", file=sys.stderr)
        return 2
    # Workers inherit the key resolved here instead of each fetching it from Secrets Manager again.
    os.environ["PREDICTION_ID_SECRET"] = secret.decode()
    if settings.workers == 1:
        run_worker(settings, reuse_port=False)
        return 0
    return run_workers(settings)


if __name__ == "__main__":
    sys.exit(main())
