from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.release_control.fakes import moto_sagemaker


@pytest.fixture
def sagemaker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with moto_sagemaker(monkeypatch) as client:
        yield client
