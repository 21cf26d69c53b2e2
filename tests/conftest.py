"""Suite-wide: every AWS request a test makes, in this process or in a subprocess, is held to botocore's service model,
and every request made by a principal of the stacks is decided against the synthesized IAM (testbed/
iam_enforcement.py: the rehearsal and the integration tests say who acts).

A request AWS would refuse (enum, range, length, pattern, required member: see testbed/aws_contracts.py) raises
where it is made and fails the test phase (setup, call or teardown) that made it, even when the code under test
catches the exception. Subprocesses get the same check through `MotoServer.environment()`; their violations come back
through a log file. There is no opt-out: a test of the checker itself uses `aws_contracts.expected_violations()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import settings

import infra  # noqa: F401  (before any test module imports aws_cdk: it explains jsii's Node.js banner once)
from testbed import aws_contracts, iam_enforcement

aws_contracts.install_for_tests()
iam_enforcement.install()

# Property-based tests run in every `make test`: a few examples each, the same ones every run (derandomized, no
# example database carried between runs), each allowed seconds, not minutes (a limit no loaded CI machine reaches by
# accident). `pytest --hypothesis-profile deep` fuzzes with a thousand fresh examples per property.
settings.register_profile("suite", max_examples=20, derandomize=True, database=None, deadline=timedelta(seconds=5))
settings.register_profile("deep", max_examples=1000, database=None, deadline=timedelta(seconds=5))
settings.load_profile("suite")


def _fail_on_violations() -> None:
    found = [str(violation) for violation in aws_contracts.take_recorded()]
    found += [str(denial) for denial in iam_enforcement.take_recorded()] + aws_contracts.subprocess_violations()
    if found:
        pytest.fail(f"{len(found)} request(s) AWS would refuse:\n" + "\n".join(found), pytrace=False)


@pytest.hookimpl(wrapper=True)
def _checked_phase(item: pytest.Item) -> Iterator[None]:
    try:
        return (yield)
    finally:
        _fail_on_violations()


pytest_runtest_setup = pytest_runtest_call = pytest_runtest_teardown = _checked_phase
