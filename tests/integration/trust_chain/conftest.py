"""The deploy tests' moto server: one per module, emptied for each test."""

from tests.integration.deploy.conftest import running_server, server  # noqa: F401 -- shared fixtures
