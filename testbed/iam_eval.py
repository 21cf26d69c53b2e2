"""Decide a request the way IAM does, from the synthesized templates: identity policies, permission boundaries and
the resource policies of the resource (bucket, KMS key, SNS topic, event bus, model package group).

moto evaluates no policy, so the tests ask this module instead, of the very templates `cdk deploy` would create.
The decision follows AWS's policy evaluation logic
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
an explicit Deny in any applicable policy wins; a permission boundary must also allow; within one account an Allow
in the identity policies or in the resource policy (naming the role) grants, across accounts both must
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html); a KMS key
policy must always allow, directly or by delegating to the account's IAM policies
(https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).

Fail closed: a condition operator this module does not implement, or a condition key the request does not say it
knows (present or absent), raises `IamEvaluationError`, which fails the test rather than passing the request.

Kept to the standard library: test subprocesses load it by path (testbed/strict_aws_site/sitecustomize.py).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PARTITION = "aws"
ACCOUNT = "123456789012"  # moto's account: the tests' ARNs and the templates' rendered ones agree
STACK_NAME = "StackName"  # set on each template by whoever loads it: CloudFormation's names of unnamed resources


class IamEvaluationError(Exception):
    """The templates use something this evaluator cannot decide; failing is the only safe answer."""


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- the templates of one account, with CloudFormation's tokens rendered ----------------------------------------


@dataclass(frozen=True)
class Principal:
    """A role as the templates define it: its ARN, its identity policies and its permission boundary (if any)."""

    arn: str
    documents: list[tuple[Mapping[str, Any], Any]]
    boundary: list[tuple[Mapping[str, Any], Any]] | None = None
    unrestricted: bool = False  # an operator: identity policies outside the templates, resource policies still apply
    tags: Mapping[str, str] = field(default_factory=dict)  # the role's tags: `aws:PrincipalTag/<key>`

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]


class PolicyWorld:
    """The resources of one account's synthesized templates.

    `bindings` give the physical value of a resource the templates leave to CloudFormation (a generated bucket
    name, a key's ARN), by logical id or by the SSM parameter name the stacks publish it under: the tests create
    those resources themselves and publish the same parameters.
    """

    def __init__(
        self,
        templates: Iterable[Mapping[str, Any]],
        region: str,
        account: str = ACCOUNT,
        bindings: Mapping[str, str] | None = None,
    ) -> None:
        self.templates = list(templates)
        self.region = region
        self.account = account
        self.exports = {
            output["Export"]["Name"]: (template, output["Value"])
            for template in self.templates
            for output in template.get("Outputs", {}).values()
            if "Export" in output
        }
        self.bindings: dict[str, str] = {}
        self._memo: dict[Any, Any] = {}  # rendered tokens and resource policies; emptied when bindings change
        self.bind(bindings or {})

    def bind(self, bindings: Mapping[str, str]) -> None:
        """Physical values by the name of the SSM parameter the stacks publish them under (its value a `Ref` or a
        `GetAtt` of the resource), or by `<stack>/<logical id>` (its Ref) and `<stack>/<logical id>.<attribute>`."""
        self._memo.clear()
        for name, value in bindings.items():
            for template in self.templates:
                for resource in template.get("Resources", {}).values():
                    properties = resource.get("Properties", {})
                    if resource["Type"] == "AWS::SSM::Parameter" and properties.get("Name") == name:
                        token = properties["Value"]
                        if isinstance(token, dict) and "Ref" in token:
                            self.bindings[self._key(template, token["Ref"])] = value
                        elif isinstance(token, dict) and "Fn::GetAtt" in token:
                            self.bindings[self._key(template, ".".join(token["Fn::GetAtt"]))] = value
            # By its own name too: a stack of another stage reads it as an `AWS::SSM::Parameter::Value` parameter.
            self.bindings[name] = value

    @staticmethod
    def _key(template: Mapping[str, Any], reference: str) -> str:
        """Logical ids repeat across stacks (each environment's stage has the same ones): a binding names its stack."""
        return f"{template.get(STACK_NAME, '')}/{reference}"

    # rendering ----------------------------------------------------------------------------------------------------

    def render(self, value: Any, template: Mapping[str, Any]) -> str:
        if isinstance(value, str):
            return value
        key = ("render", id(value), id(template))  # the templates are never changed, so a token renders once
        if key not in self._memo:
            self._memo[key] = self._render(value, template)
        return self._memo[key]

    def _render(self, value: Any, template: Mapping[str, Any]) -> str:
        if isinstance(value, (int, float, bool)):
            return str(value).lower() if isinstance(value, bool) else str(value)
        ((function, argument),) = value.items()
        if function == "Ref":
            pseudo = {
                "AWS::Partition": PARTITION,
                "AWS::AccountId": self.account,
                "AWS::Region": self.region,
                "AWS::URLSuffix": "amazonaws.com",
            }
            return pseudo.get(argument) or self._ref(template, argument)
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(self.render(part, template) for part in parts)
        if function == "Fn::ImportValue":
            exporter, exported = self.exports[self.render(argument, template)]
            return self.render(exported, exporter)
        if function == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self._attribute(template, logical_id, attribute)
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            for name, replacement in variables.items():
                text = text.replace("${" + name + "}", self.render(replacement, template))
            for token in {part.split("}", 1)[0] for part in text.split("${")[1:]}:
                reference = {"Fn::GetAtt": token.split(".", 1)} if "." in token else {"Ref": token}
                text = text.replace("${" + token + "}", self.render(reference, template))
            return text
        if function == "Fn::Select":
            index, items = argument
            return _as_list(self._list(items, template))[int(index)]
        raise IamEvaluationError(f"cannot render {value!r}")

    def _list(self, value: Any, template: Mapping[str, Any]) -> list[str]:
        if isinstance(value, dict) and "Fn::Split" in value:
            separator, text = value["Fn::Split"]
            return self.render(text, template).split(separator)
        return [self.render(item, template) for item in _as_list(value)]

    def _resource(self, template: Mapping[str, Any], logical_id: str) -> tuple[str, Mapping[str, Any]]:
        resource = template.get("Resources", {}).get(logical_id)
        if resource is None:
            raise IamEvaluationError(f"no resource {logical_id} in the template")
        return resource["Type"], resource.get("Properties", {})

    def _ref(self, template: Mapping[str, Any], logical_id: str) -> str:
        if self._key(template, logical_id) in self.bindings:
            return self.bindings[self._key(template, logical_id)]
        parameter = template.get("Parameters", {}).get(logical_id)
        if parameter is not None:
            if parameter["Type"].startswith("AWS::SSM::Parameter::Value") and parameter.get("Default") in self.bindings:
                return self.bindings[parameter["Default"]]
            return f"parameter-{logical_id}"
        kind, properties = self._resource(template, logical_id)
        name_property = {
            "AWS::S3::Bucket": "BucketName",
            "AWS::IAM::Role": "RoleName",
            "AWS::Lambda::Function": "FunctionName",
            "AWS::SSM::Parameter": "Name",
            "AWS::Logs::LogGroup": "LogGroupName",
            "AWS::DynamoDB::GlobalTable": "TableName",
            "AWS::DynamoDB::Table": "TableName",
            "AWS::SageMaker::ModelPackageGroup": "ModelPackageGroupName",
            "AWS::CodeBuild::Project": "Name",
            "AWS::Events::EventBus": "Name",
        }.get(kind)
        if name_property and name_property in properties:
            return self.render(properties[name_property], template)
        if kind == "AWS::SNS::Topic":
            return self._attribute(template, logical_id, "TopicArn")
        # CloudFormation's generated name (`<stack>-<logical id>-<suffix>`), when nothing was bound to it.
        return f"{template.get(STACK_NAME, 'stack')}-{logical_id}".lower()

    def _attribute(self, template: Mapping[str, Any], logical_id: str, attribute: str) -> str:
        if self._key(template, f"{logical_id}.{attribute}") in self.bindings:
            return self.bindings[self._key(template, f"{logical_id}.{attribute}")]
        kind, properties = self._resource(template, logical_id)
        here = f"{self.region}:{self.account}"
        if kind == "AWS::SNS::Topic" and attribute in ("TopicArn", "Arn"):
            topic = self.render(properties["TopicName"], template) if "TopicName" in properties else logical_id
            return f"arn:{PARTITION}:sns:{here}:{topic}"
        name = self._ref(template, logical_id)
        arns = {
            "AWS::S3::Bucket": f"arn:{PARTITION}:s3:::{name}",
            "AWS::IAM::Role": f"arn:{PARTITION}:iam::{self.account}:role/{name}",
            "AWS::KMS::Key": f"arn:{PARTITION}:kms:{here}:key/{name}",
            "AWS::Lambda::Function": f"arn:{PARTITION}:lambda:{here}:function:{name}",
            "AWS::Logs::LogGroup": f"arn:{PARTITION}:logs:{here}:log-group:{name}:*",
            "AWS::DynamoDB::GlobalTable": f"arn:{PARTITION}:dynamodb:{here}:table/{name}",
            "AWS::DynamoDB::Table": f"arn:{PARTITION}:dynamodb:{here}:table/{name}",
            "AWS::SageMaker::ModelPackageGroup": f"arn:{PARTITION}:sagemaker:{here}:model-package-group/{name}",
            "AWS::CodeBuild::Project": f"arn:{PARTITION}:codebuild:{here}:project/{name}",
            "AWS::Events::EventBus": f"arn:{PARTITION}:events:{here}:event-bus/{name}",
            "AWS::SecretsManager::Secret": f"arn:{PARTITION}:secretsmanager:{here}:secret:{name}",
        }
        if attribute in ("Arn", "ModelPackageGroupArn") and kind in arns:
            return arns[kind]
        return f"unresolved:{logical_id}.{attribute}"  # matches no pattern but `*`

    # principals and resource policies ---------------------------------------------------------------------------

    def _templates_with(self, kind: str) -> Iterable[tuple[Mapping[str, Any], str, Mapping[str, Any]]]:
        for template in self.templates:
            for logical_id, resource in template.get("Resources", {}).items():
                if resource["Type"] == kind:
                    yield template, logical_id, resource.get("Properties", {})

    def role(
        self,
        *,
        role_name: str | None = None,
        project_name: str | None = None,
        function_name: str | None = None,
        task_family: str | None = None,
        execution_family: str | None = None,
    ) -> Principal:
        """A role by its name, or the role of the CodeBuild project, Lambda function or ECS task of that name, or the
        execution role ECS starts that task with (image pull, logs, the task's secrets)."""
        wanted = [
            ("AWS::IAM::Role", "RoleName", role_name, None),
            ("AWS::CodeBuild::Project", "Name", project_name, "ServiceRole"),
            ("AWS::Lambda::Function", "FunctionName", function_name, "Role"),
            ("AWS::ECS::TaskDefinition", "Family", task_family, "TaskRoleArn"),
            ("AWS::ECS::TaskDefinition", "Family", execution_family, "ExecutionRoleArn"),
        ]
        for kind, name_property, name, role_property in wanted:
            if name is None:
                continue
            for template, logical_id, properties in self._templates_with(kind):
                if self.render(properties.get(name_property, ""), template) == name:
                    role_id = logical_id if role_property is None else properties[role_property]["Fn::GetAtt"][0]
                    return self._principal(template, role_id)
        named = role_name or project_name or function_name or task_family or execution_family
        raise LookupError(f"no role {named!r} in the templates")

    def _principal(self, template: Mapping[str, Any], role_id: str) -> Principal:
        properties = template["Resources"][role_id]["Properties"]
        documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        documents += [
            resource["Properties"]["PolicyDocument"]
            for resource in template["Resources"].values()
            if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
            and {"Ref": role_id} in resource["Properties"].get("Roles", [])
        ]
        for managed in properties.get("ManagedPolicyArns", []):
            documents.append(self._managed_policy(template, managed))
        boundary = properties.get("PermissionsBoundary")
        arn = self._attribute(template, role_id, "Arn")
        return Principal(
            arn,
            [(template, document) for document in documents],
            None if boundary is None else [(template, self._managed_policy(template, boundary))],
            tags={tag["Key"]: self.render(tag["Value"], template) for tag in properties.get("Tags", [])},
        )

    def _managed_policy(self, template: Mapping[str, Any], reference: Any) -> Any:
        if isinstance(reference, dict) and "Ref" in reference:
            kind, properties = self._resource(template, reference["Ref"])
            if kind == "AWS::IAM::ManagedPolicy":
                return properties["PolicyDocument"]
        arn = self.render(reference, template)
        if arn in AWS_MANAGED_POLICIES:
            return AWS_MANAGED_POLICIES[arn]
        raise IamEvaluationError(f"managed policy {arn} is not known to the evaluator: add its document")

    def resource_policies(self, resource: str) -> list[tuple[Mapping[str, Any], Any]]:
        """The resource-based policies that govern `resource` (an ARN) in this account's templates."""
        if ("policies", resource) not in self._memo:
            self._memo[("policies", resource)] = self._resource_policies(resource)
        return self._memo[("policies", resource)]

    def _resource_policies(self, resource: str) -> list[tuple[Mapping[str, Any], Any]]:
        found = []
        for template, _, properties in self._templates_with("AWS::S3::BucketPolicy"):
            bucket = f"arn:{PARTITION}:s3:::{self.render(properties['Bucket'], template)}"
            if resource == bucket or resource.startswith(f"{bucket}/"):
                found.append((template, properties["PolicyDocument"]))
        for template, logical_id, properties in self._templates_with("AWS::KMS::Key"):
            if resource == self._attribute(template, logical_id, "Arn"):
                found.append((template, properties["KeyPolicy"]))
        for template, _, properties in self._templates_with("AWS::SNS::TopicPolicy"):
            if resource in [self.render(topic, template) for topic in properties["Topics"]]:
                found.append((template, properties["PolicyDocument"]))
        for template, _, properties in self._templates_with("AWS::Events::EventBusPolicy"):
            bus = self.render(properties.get("EventBusName", "default"), template)
            if resource == f"arn:{PARTITION}:events:{self.region}:{self.account}:event-bus/{bus}":
                statement = properties.get("Statement")
                if statement is None:
                    raise IamEvaluationError("an EventBusPolicy without Statement is not evaluated here")
                found.append((template, {"Statement": [statement]}))
        for template, logical_id, properties in self._templates_with("AWS::SageMaker::ModelPackageGroup"):
            if "ModelPackageGroupPolicy" not in properties:
                continue
            group = self._ref(template, logical_id)
            here = f"arn:{PARTITION}:sagemaker:{self.region}:{self.account}"
            if resource == f"{here}:model-package-group/{group}" or resource.startswith(
                f"{here}:model-package/{group}/"
            ):
                policy = properties["ModelPackageGroupPolicy"]
                found.append((template, json.loads(policy) if isinstance(policy, str) else policy))
        return found

    def key_of_bucket(self, bucket: str) -> tuple[str | None, bool]:
        """The KMS key ARN a bucket encrypts new objects with by default (None: S3-managed, the AWS managed aws/s3
        key, or no encryption), and whether it uses an S3 Bucket Key."""
        for template, logical_id, properties in self._templates_with("AWS::S3::Bucket"):
            if self._ref(template, logical_id) != bucket:
                continue
            for rule in properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", []):
                default = rule.get("ServerSideEncryptionByDefault", {})
                if default.get("SSEAlgorithm") == "aws:kms" and "KMSMasterKeyID" in default:
                    return self.render(default["KMSMasterKeyID"], template), bool(rule.get("BucketKeyEnabled"))
        return None, False

    def key_of_table(self, table: str) -> str | None:
        """The customer managed KMS key ARN a DynamoDB table of these templates is encrypted with in this region
        (None: an AWS owned or AWS managed key, or a table the templates do not define)."""
        for kind in ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"):
            for template, logical_id, properties in self._templates_with(kind):
                if self._ref(template, logical_id) != table:
                    continue
                specifications = [properties.get("SSESpecification", {})] + [
                    replica.get("SSESpecification", {})
                    for replica in properties.get("Replicas", [])
                    if self.render(replica.get("Region", self.region), template) == self.region
                ]
                for specification in specifications:
                    if "KMSMasterKeyId" in specification:
                        return self.render(specification["KMSMasterKeyId"], template)
        return None

    def task_secret(self, family: str, variable: str) -> str:
        """`<stack>/<logical id>` of the secret ECS injects as `variable` into the task of `family`: what a test that
        creates that secret binds its ARN to (CloudFormation's Ref of a secret is its ARN)."""
        for template, _, properties in self._templates_with("AWS::ECS::TaskDefinition"):
            if self.render(properties.get("Family", ""), template) != family:
                continue
            for container in properties.get("ContainerDefinitions", []):
                for secret in container.get("Secrets", []):
                    if secret["Name"] == variable:
                        return self._key(template, secret["ValueFrom"]["Ref"])
        raise LookupError(f"no secret {variable} in task {family!r}")

    def key_of_secret(self, secret: str) -> str | None:
        """The KMS key ARN a secret of these templates (by its bound ARN) is encrypted with (None: aws/secretsmanager,
        or not a secret of the templates)."""
        for template, logical_id, properties in self._templates_with("AWS::SecretsManager::Secret"):
            if self.bindings.get(self._key(template, logical_id)) == secret and "KmsKeyId" in properties:
                return self.render(properties["KmsKeyId"], template)
        return None

    def owns(self, resource: str) -> bool:
        """Whether `resource` belongs to this account (S3 ARNs carry no account: a bucket of these templates)."""
        if resource.startswith(f"arn:{PARTITION}:s3:::"):
            bucket = resource.split(":::", 1)[1].split("/", 1)[0]
            return any(self._ref(t, logical) == bucket for t, logical, _ in self._templates_with("AWS::S3::Bucket"))
        parts = resource.split(":")
        return len(parts) > 4 and parts[4] == self.account


# AWS managed policies attached by constructs of the app, with the statements AWS publishes for them.
AWS_MANAGED_POLICIES: dict[str, Any] = {
    f"arn:{PARTITION}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ]
    }
}


# --- one request and its decision ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One action on one resource by one principal. `context` holds every condition key the action supports:
    a list of values, or None when the key is absent from this request; a key not in it cannot be evaluated."""

    principal: str
    action: str
    resource: str
    context: Mapping[str, Sequence[str] | None] = field(default_factory=dict)

    def __str__(self) -> str:
        shown = {key: value for key, value in self.context.items() if value is not None}
        return f"{self.principal} {self.action} on {self.resource} {shown or ''}".rstrip()


PRINCIPAL_TAG = "aws:PrincipalTag/"


class _Context(dict):
    """A request's condition context, in which `aws:PrincipalTag/<key>` is always known: the calling role's tag,
    or absent (None) when the role has no such tag, as IAM fills it for a role session without session tags."""

    def __init__(self, values: Mapping[str, Sequence[str] | None], tags: Mapping[str, str]) -> None:
        super().__init__(values)
        self.tags = tags

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or (isinstance(key, str) and key.startswith(PRINCIPAL_TAG))

    def __getitem__(self, key: str) -> Sequence[str] | None:
        if super().__contains__(key) or not key.startswith(PRINCIPAL_TAG):
            return super().__getitem__(key)
        value = self.tags.get(key.removeprefix(PRINCIPAL_TAG))
        return None if value is None else [value]


@dataclass(frozen=True)
class AccessDecision:
    """IAM's answer to one request: allowed or denied, and by what."""

    allowed: bool
    reason: str


def _matches(patterns: Iterable[str], value: str, *, case_sensitive: bool = True) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` one character; nothing else is special."""
    for pattern in patterns:
        escaped = pattern.replace("[", "[[]")
        if case_sensitive and fnmatch.fnmatchcase(value, escaped):
            return True
        if not case_sensitive and fnmatch.fnmatchcase(value.lower(), escaped.lower()):
            return True
    return False


_STRING_TESTS = {
    "StringEquals": lambda actual, expected: actual == expected,
    "StringLike": lambda actual, expected: _matches([expected], actual),
    "StringEqualsIgnoreCase": lambda actual, expected: actual.lower() == expected.lower(),
    "ArnEquals": lambda actual, expected: actual == expected,
    "ArnLike": lambda actual, expected: _matches([expected], actual),
    "Bool": lambda actual, expected: actual.lower() == expected.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotLike": "StringLike",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _condition_holds(operator: str, key: str, expected: list[str], context: Mapping[str, Sequence[str] | None]) -> bool:
    if key not in context:
        raise IamEvaluationError(f"condition key {key} is not known for this request: cannot evaluate {operator}")
    actual = context[key]
    if operator == "Null":
        return (actual is None) == (expected == ["true"])
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    negated = base in _NEGATED
    test = _STRING_TESTS.get(_NEGATED.get(base, base))
    if test is None or qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise IamEvaluationError(f"condition operator {operator} is not evaluated here")
    if actual is None:
        # A missing key: ...IfExists holds; ForAllValues holds (vacuously); a negated operator holds; others fail.
        return if_exists or qualifier == "ForAllValues" or negated
    if not qualifier and len(actual) != 1:
        raise IamEvaluationError(f"{key} has several values; {operator} needs ForAllValues or ForAnyValue")

    def one(value: str) -> bool:
        hit = any(test(value, wanted) for wanted in expected)
        return not hit if negated else hit

    return all(map(one, actual)) if qualifier == "ForAllValues" else any(map(one, actual))


def _principal_named(named: Any, principal: str, world: PolicyWorld, template: Mapping[str, Any]) -> bool:
    if named == "*":
        return True
    arns = [world.render(arn, template) for arn in _as_list(named.get("AWS", []))]
    account = principal.split(":")[4]
    # Naming an account makes the statement apply to its principals (whether it grants is `_names_role_itself`).
    return any(arn in ("*", principal, account, f"arn:{PARTITION}:iam::{account}:root") for arn in arns)


def _statement_applies(
    world: PolicyWorld, template: Mapping[str, Any], statement: Mapping[str, Any], request: Request
) -> bool:
    if "NotPrincipal" in statement:
        raise IamEvaluationError("NotPrincipal is not evaluated here")
    if "Principal" in statement and not _principal_named(statement["Principal"], request.principal, world, template):
        return False
    if "Action" in statement:
        if not _matches(_as_list(statement["Action"]), request.action, case_sensitive=False):
            return False
    elif _matches(_as_list(statement["NotAction"]), request.action, case_sensitive=False):
        return False
    if "Resource" in statement:
        resources = [world.render(resource, template) for resource in _as_list(statement["Resource"])]
        if not _matches(resources, request.resource):
            return False
    elif "NotResource" in statement:
        resources = [world.render(resource, template) for resource in _as_list(statement["NotResource"])]
        if _matches(resources, request.resource):
            return False
    for operator, tests in statement.get("Condition", {}).items():
        for key, expected in tests.items():
            values = [world.render(value, template) for value in _as_list(expected)]
            if not _condition_holds(operator, key, values, request.context):
                return False
    return True


def _effects(world: PolicyWorld, documents: Iterable[tuple[Mapping[str, Any], Any]], request: Request) -> set[str]:
    return {
        statement.get("Effect", "Allow")
        for template, document in documents
        for statement in _as_list(document["Statement"])
        if _statement_applies(world, template, statement, request)
    }


def _names_role_itself(
    world: PolicyWorld, documents: Iterable[tuple[Mapping[str, Any], Any]], request: Request
) -> bool:
    """Whether an Allow of the resource policy names the role itself (not merely its account), which grants on its
    own within the account; naming the account delegates to the account's IAM policies."""
    for template, document in documents:
        for statement in _as_list(document["Statement"]):
            if statement.get("Effect", "Allow") != "Allow" or not _statement_applies(
                world, template, statement, request
            ):
                continue
            named = statement.get("Principal")
            if named is None:
                continue
            arns = ["*"] if named == "*" else [world.render(arn, template) for arn in _as_list(named.get("AWS", []))]
            if "*" in arns or request.principal in arns:
                return True
    return False


class Authorizer:
    """Decides requests against the templates of one or more accounts (the caller's and the resource owner's)."""

    def __init__(self, worlds: Sequence[PolicyWorld], principals: Mapping[str, Principal]) -> None:
        self.worlds = list(worlds)
        self.principals = dict(principals)

    def decide(self, request: Request) -> AccessDecision:
        principal = self.principals.get(request.principal)
        if principal is None:
            raise IamEvaluationError(f"no principal {request.principal} is known to the evaluator")
        caller = next((w for w in self.worlds if w.account == principal.account), None)
        if caller is None:
            raise IamEvaluationError(f"no templates for the account of {principal.arn}")
        context = _Context(
            {
                "aws:SecureTransport": ["true"],  # the product's clients use AWS's HTTPS endpoints
                "aws:PrincipalArn": [principal.arn],
                "aws:PrincipalAccount": [principal.account],
                "aws:SourceArn": None,  # set only when a service calls on behalf of a resource
                "aws:SourceAccount": None,
                **request.context,
            },
            principal.tags,
        )
        request = Request(request.principal, request.action, request.resource, context)
        owner = next((w for w in self.worlds if w.owns(request.resource)), caller)
        resource_documents = owner.resource_policies(request.resource)
        identity = set() if principal.unrestricted else _effects(caller, principal.documents, request)
        resource = _effects(owner, resource_documents, request)
        if "Deny" in identity | resource:
            where = "an identity policy" if "Deny" in identity else "the resource policy"
            return AccessDecision(False, f"explicit Deny in {where}")
        if principal.boundary is not None and "Allow" not in _effects(caller, principal.boundary, request):
            return AccessDecision(False, "the permission boundary allows no such request")
        identity_allows = principal.unrestricted or "Allow" in identity
        is_key = request.resource.startswith(f"arn:{PARTITION}:kms:")
        if is_key and owner.templates and not resource_documents and owner.owns(request.resource):
            return AccessDecision(False, "a KMS key of these templates has no key policy here")
        if is_key and resource_documents:
            # The key policy must allow: by naming the role itself, or by naming the account (then IAM decides).
            if "Allow" not in resource:
                return AccessDecision(False, "the key policy allows no such request")
            if _names_role_itself(owner, resource_documents, request):
                return AccessDecision(True, "allowed by the key policy")
            return AccessDecision(identity_allows, "allowed" if identity_allows else "no identity policy allows it")
        if owner is not caller:  # cross-account: both sides must allow
            both = identity_allows and _names_role_itself(owner, resource_documents, request)
            return AccessDecision(both, "allowed by both accounts" if both else "cross-account: both sides must allow")
        if identity_allows or _names_role_itself(owner, resource_documents, request):
            return AccessDecision(True, "allowed")
        return AccessDecision(False, "no policy allows it (implicit deny)")


# --- what the existing write-once tests ask ------------------------------------------------------------------------


def allowed(
    world: PolicyWorld, principal: Principal, bucket_prefix: str, action: str, key: str, **context: str
) -> bool:
    """May `principal` perform `action` on object `key` of the bucket whose logical id starts with `bucket_prefix`?
    `context`: S3 condition keys, e.g. if_none_match="*"."""
    bucket = next(
        world._ref(template, logical_id)
        for template, logical_id, _ in world._templates_with("AWS::S3::Bucket")
        if logical_id.startswith(bucket_prefix)
    )
    request_context: dict[str, Sequence[str] | None] = {
        "s3:if-none-match": None,
        "s3:ObjectCreationOperation": ["true"] if action == "s3:PutObject" else None,
        "s3:x-amz-acl": None,
    }
    request_context |= {f"s3:{name.replace('_', '-')}": [value] for name, value in context.items()}
    authorizer = Authorizer([world], {principal.arn: principal})
    return authorizer.decide(
        Request(principal.arn, action, f"arn:{PARTITION}:s3:::{bucket}/{key}", request_context)
    ).allowed
