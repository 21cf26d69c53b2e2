from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.aws import MotoServer, moto_server


@pytest.fixture(scope="module")
def running_server() -> Iterator[MotoServer]:
    with moto_server() as server:
        yield server


@pytest.fixture
def server(running_server: MotoServer) -> MotoServer:
    """The module's moto server, emptied for each test."""
    running_server.reset()
    return running_server
