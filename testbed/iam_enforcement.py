"""Every AWS call made while a principal acts is decided by `iam_eval` against the synthesized templates, where the
call is made, as AWS would decide it: a denied call raises AccessDenied and is recorded, so the test fails even when
the code under test handles the error (tests/conftest.py, as for the request contracts).

Services the tests play with doubles instead of moto (CodePipeline's job and action-execution APIs, CodeCommit)
are not botocore: each double asks `authorize` for every call it serves, which decides it the same way.

Who acts is set by whoever plays it: `acting_as(role_arn)` in this process (a Lambda handler run in-process), or
STRICT_IAM_PRINCIPAL in a subprocess's environment (a CodeBuild build, the gateway), which `subprocess_environment`
fills. A subprocess started with the policy file but without a principal has every call refused: nothing a build
or the gateway does goes unattributed. Calls made outside any principal are the tests' own (playing CloudFormation
or AWS itself) and are not evaluated.

A request a process signs itself and sends without botocore (the gateway's InvokeEndpoint, over aiohttp) is decided
too: `install_for_signed_requests` recognises it by its SigV4 credential scope and path; a signed request it cannot
map is refused.

S3 answers 404 for a missing key only to a caller with s3:ListBucket on the bucket, and 403 otherwise
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html, API_GetObject.html): moto always answers 404,
so a 404 to a principal without that permission is turned into the 403 AWS would send, and recorded.

Kept to the standard library and botocore (test subprocesses load it by path).
"""

from __future__ import annotations

import contextvars
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore import handlers
from botocore.exceptions import ClientError

try:
    from testbed import aws_contracts, iam_eval, iam_requests
except ImportError:  # loaded by path in a test subprocess
    import _strict_aws_contracts as aws_contracts  # type: ignore[no-redef]
    import _strict_iam_eval as iam_eval  # type: ignore[no-redef]
    import _strict_iam_requests as iam_requests  # type: ignore[no-redef]

WORLD_VARIABLE = "STRICT_IAM_WORLD"
PRINCIPAL_VARIABLE = "STRICT_IAM_PRINCIPAL"
UNATTRIBUTED = "unattributed"
OPERATOR = f"arn:{iam_eval.PARTITION}:iam::{iam_eval.ACCOUNT}:role/operator"
# The threat model's outsider: anyone with events:PutEvents or lambda:InvokeFunction, and ssm:GetParameter to learn
# the names a forged event carries. Its own policy is this one, not the templates'; resource policies still apply.
ATTACKER = f"arn:{iam_eval.PARTITION}:iam::{iam_eval.ACCOUNT}:role/attacker"
ATTACKER_POLICY = {
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["events:PutEvents", "lambda:InvokeFunction", "ssm:GetParameter"],
            "Resource": "*",
        }
    ]
}

_installed = False
_on_denial: Callable[[list[Denial]], None] | None = None  # a subprocess's report, set by `install`
_acting: contextvars.ContextVar[str | None] = contextvars.ContextVar("iam_acting_principal", default=None)
_authorizer: iam_eval.Authorizer | None = None
_world_file: Path | None = None


class Denial(Exception):
    def __init__(self, service: str, operation: str, reason: str) -> None:
        self.service, self.operation, self.reason = service, operation, reason
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"IAM: {self.service} {self.operation}: {self.reason}"


# --- the policies in force ------------------------------------------------------------------------------------------


def authorizer_from(worlds: Sequence[iam_eval.PolicyWorld]) -> iam_eval.Authorizer:
    """Every role of the templates may act, an operator (whose own policies the templates do not define) and the
    attacker (`ATTACKER_POLICY`)."""
    principals: dict[str, iam_eval.Principal] = {}
    for world in worlds:
        for template, logical_id, _ in world._templates_with("AWS::IAM::Role"):
            principal = world._principal(template, logical_id)
            principals[principal.arn] = principal
        operator = f"arn:{iam_eval.PARTITION}:iam::{world.account}:role/operator"
        principals[operator] = iam_eval.Principal(operator, [], unrestricted=True)
        attacker = f"arn:{iam_eval.PARTITION}:iam::{world.account}:role/attacker"
        principals[attacker] = iam_eval.Principal(attacker, [({}, ATTACKER_POLICY)])
    return iam_eval.Authorizer(worlds, principals)


def write_world(worlds: Sequence[iam_eval.PolicyWorld], directory: Path) -> Path:
    """The policies of `worlds` as a file a subprocess decides its calls against (`subprocess_environment`)."""
    path = directory / "iam-world.json"
    documents = [
        {"region": w.region, "account": w.account, "templates": w.templates, "bindings": w.bindings} for w in worlds
    ]
    path.write_text(json.dumps(documents))
    return path


def enforce(worlds: Sequence[iam_eval.PolicyWorld], directory: Path) -> None:
    """Decide this process's calls (and, through `subprocess_environment`, its subprocesses') against `worlds`."""
    global _authorizer, _world_file
    install()
    _authorizer = authorizer_from(worlds)
    _world_file = write_world(worlds, directory)


def stop_enforcing() -> None:
    global _authorizer, _world_file
    _authorizer, _world_file = None, None


@contextmanager
def policies_in_force(worlds: Sequence[iam_eval.PolicyWorld], directory: Path) -> Iterator[None]:
    """`enforce` for the block only; the policies in force before it (if any) are in force again after it."""
    global _authorizer, _world_file
    before = _authorizer, _world_file
    enforce(worlds, directory)
    try:
        yield
    finally:
        _authorizer, _world_file = before


def _load_world_file(path: str) -> iam_eval.Authorizer:
    documents = json.loads(Path(path).read_text())
    worlds = [iam_eval.PolicyWorld(d["templates"], d["region"], d["account"], bindings={}) for d in documents]
    for world, document in zip(worlds, documents, strict=True):
        world.bindings.update(document["bindings"])
    return authorizer_from(worlds)


def subprocess_environment(principal: str, world_file: Path | None = None) -> dict[str, str]:
    """Variables that make a subprocess act as `principal` under the policies of `world_file` (`write_world`), or
    under those in force (none when none are)."""
    world_file = world_file or _world_file
    if world_file is None:
        return {}
    return {WORLD_VARIABLE: str(world_file), PRINCIPAL_VARIABLE: principal}


def _role_in_force(**name: str) -> str | None:
    if _authorizer is None:
        return None
    for world in _authorizer.worlds:
        try:
            return world.role(**name).arn
        except LookupError:
            continue
    raise LookupError(f"no role for {name} in the policies in force")


def as_codebuild_project(project: str) -> dict[str, str]:
    """Variables that make a build act as CodeBuild project `project`'s role (none when no policies are in force)."""
    role = _role_in_force(project_name=project)
    return {} if role is None else subprocess_environment(role)


@contextmanager
def as_lambda_function(function: str) -> Iterator[None]:
    """The block's calls are Lambda function `function`'s role's (evaluated only when policies are in force)."""
    role = _role_in_force(function_name=function)
    if role is None:
        yield
    else:
        with acting_as(role):
            yield


@contextmanager
def acting_as(principal: str) -> Iterator[None]:
    """The calls of this block (in this thread) are `principal`'s."""
    token = _acting.set(principal)
    try:
        yield
    finally:
        _acting.reset(token)


def attacker_invokes(function: str) -> None:
    """`ATTACKER`'s lambda:InvokeFunction of Lambda function `function`, decided; the caller then runs its handler
    as the function's role (`as_lambda_function`)."""
    with acting_as(ATTACKER):
        authorize("lambda", "Invoke", {"FunctionName": function})


# --- the botocore handlers -----------------------------------------------------------------------------------------


def _current() -> str | None:
    acting = _acting.get() or os.environ.get(PRINCIPAL_VARIABLE)
    # A subprocess given the policies must say who it is; this process's own unattributed calls are the tests'.
    return acting or (UNATTRIBUTED if _authorizer is None and os.environ.get(WORLD_VARIABLE) else None)


def _refuse(denial: Denial, status: int = 403) -> None:
    _record(denial)
    code = "AccessDenied" if status == 403 else str(status)
    raise ClientError(
        {"Error": {"Code": code, "Message": str(denial)}, "ResponseMetadata": {"HTTPStatusCode": status}},
        denial.operation,
    )


def _record(denial: Denial) -> None:
    _RECORDED.add([denial])
    if _on_denial is not None:
        _on_denial([denial])


def _decide(authorizer: iam_eval.Authorizer, principal: str, call: iam_requests.Call) -> str | None:
    """Why `call` by `principal` is denied, or None when every authorization it needs is allowed."""
    if principal == UNATTRIBUTED:
        return "a call made by no principal (the process was given the policies but not who it is)"
    try:
        for need in iam_requests.needed(call):
            request = iam_eval.Request(need.principal or principal, need.action, need.resource, need.context)
            decision = authorizer.decide(request)
            if not decision.allowed:
                return f"{request}: denied ({decision.reason})"
    except (iam_eval.IamEvaluationError, LookupError, KeyError) as error:
        return f"cannot evaluate ({type(error).__name__}: {error}); an unevaluated call is a denied one"
    return None


def _attributed(
    service: str, operation: str, params: Mapping[str, Any], region: str | None = None
) -> tuple[str, iam_requests.Call] | None:
    """Who makes the call and what it is, or None when no policies are in force or nobody acts."""
    principal = _current()
    authorizer = _authorizer_in_force()
    if principal is None or authorizer is None:
        return None
    world = authorizer.worlds[0]
    call = iam_requests.Call(service, operation, params, region or world.region, world.account, world)
    decided = _decide(authorizer, principal, call)
    if decided is not None:
        _refuse(Denial(service, operation, decided))
    return principal, call


def authorize(service: str, operation: str, params: Mapping[str, Any]) -> None:
    """Decide a call a double serves (`service` and `operation` as botocore names them) for the acting principal:
    AccessDenied, recorded, when the policies in force deny it; nothing when none are or nobody acts."""
    _attributed(service, operation, params)


def _handlers() -> tuple[Callable[..., None], Callable[..., None]]:
    def before(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        service, operation = model.service_model.service_name, model.name
        attributed = _attributed(service, operation, params, context.get("client_region"))
        if attributed is not None:
            context["iam_call"] = attributed

    def after(http_response: Any, model: Any, context: dict[str, Any], **_: Any) -> None:
        """S3's 403 instead of 404 for a missing key, to a principal without s3:ListBucket on the bucket."""
        attributed = context.get("iam_call")
        if attributed is None or getattr(http_response, "status_code", None) != 404:
            return
        principal, call = attributed
        if model.name not in ("GetObject", "HeadObject") or call.service != "s3":
            return
        listing = iam_requests.Call("s3", "ListObjectsV2", {"Bucket": call.params["Bucket"]}, call.region,
                                    call.account, call.world)  # fmt: skip
        if _decide(_authorizer_in_force(), principal, listing) is not None:
            reason = (
                f"{principal} reads missing s3://{call.params['Bucket']}/{call.params['Key']} without s3:ListBucket "
                "on the bucket: S3 answers 403 AccessDenied, not 404"
            )
            _refuse(Denial("s3", model.name, reason))

    return before, after


# --- requests signed without botocore -------------------------------------------------------------------------------

_CREDENTIAL_SCOPE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=[^/]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request"
)
# (signing name, method) -> the path the service model's requestUri gives the call, the call and its path parameter.
_SIGNED_CALLS: dict[tuple[str, str], tuple[re.Pattern[str], str, str, str]] = {
    ("sagemaker", "POST"): (
        re.compile(r"^/endpoints/(?P<name>[^/]+)/invocations$"),
        "sagemaker-runtime",
        "InvokeEndpoint",
        "EndpointName",
    ),
}


def signed_request_denial(method: str, url: str, headers: Any) -> Denial | None:
    """Why a request signed outside botocore is denied to the acting principal, or None (allowed, not signed for AWS,
    or no policies in force)."""
    principal, authorizer = _current(), _authorizer_in_force()
    authorization = next((value for name, value in dict(headers).items() if name.lower() == "authorization"), "")
    scope = _CREDENTIAL_SCOPE.match(str(authorization))
    if principal is None or authorizer is None or scope is None:
        return None
    path = unquote(urlsplit(url).path)
    known = _SIGNED_CALLS.get((scope["service"], method.upper()))
    matched = known[0].match(path) if known else None
    if known is None or matched is None:
        reason = f"a request signed for {scope['service']} ({method} {path}) that no mapping names; it is refused"
        return Denial(scope["service"], method, reason)
    _, service, operation, parameter = known
    world = authorizer.worlds[0]
    call = iam_requests.Call(service, operation, {parameter: matched["name"]}, scope["region"], world.account, world)
    reason = _decide(authorizer, principal, call)
    return None if reason is None else Denial(service, operation, reason)


def install_for_signed_requests() -> None:
    """Decide every SigV4-signed request an aiohttp session of this process sends (a subprocess that signs its own
    requests: the gateway); a denied one is recorded, reported as `install`'s are, and fails to connect."""
    # Only processes that use aiohttp call this, possibly while `aiohttp/__init__` is still importing its client.
    from aiohttp import client, client_exceptions

    original = client.ClientSession._request

    async def _request(self: client.ClientSession, method: str, url: Any, **kwargs: Any) -> Any:
        denial = signed_request_denial(method, str(url), kwargs.get("headers") or {})
        if denial is not None:
            _record(denial)
            raise client_exceptions.ClientConnectionError(str(denial))
        return await original(self, method, url, **kwargs)

    client.ClientSession._request = _request  # type: ignore[method-assign]


_file_authorizers: dict[str, iam_eval.Authorizer] = {}


def _authorizer_in_force() -> iam_eval.Authorizer | None:
    if _authorizer is not None:
        return _authorizer
    path = os.environ.get(WORLD_VARIABLE)
    if not path:
        return None
    if path not in _file_authorizers:
        _file_authorizers[path] = _load_world_file(path)
    return _file_authorizers[path]


def install(on_denial: Callable[[list[Denial]], None] = lambda _: None) -> None:
    """Decide every call of every botocore session created from now on (idempotent; inert until policies are in
    force through `enforce` or the subprocess variables)."""
    global _installed, _on_denial
    if not _installed:
        _on_denial = on_denial
        before, after = _handlers()
        handlers.BUILTIN_HANDLERS.append(("before-parameter-build", before, handlers.REGISTER_LAST))
        handlers.BUILTIN_HANDLERS.append(("after-call.s3", after, handlers.REGISTER_LAST))
        _installed = True


_RECORDED: aws_contracts.Recorder[Denial] = aws_contracts.Recorder()
recorded = _RECORDED.peek
take_recorded = _RECORDED.take
expected_denials = _RECORDED.expected
