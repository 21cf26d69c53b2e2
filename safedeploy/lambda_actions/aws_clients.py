"""boto3 clients created on first use and reused across warm Lambda invocations.

Creating clients lazily keeps handler modules importable without credentials or a region, and `overrides` is how
tests hand in stubbed clients or a session of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3


class AwsClients:
    def __init__(
        self, overrides: Mapping[str, Any] | None = None, session: boto3.session.Session | None = None
    ) -> None:
        self._clients: dict[str, Any] = dict(overrides or {})
        self._session = session

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = (self._session or boto3).client(service)
        return self._clients[service]
