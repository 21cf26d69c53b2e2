"""Evaluate S3 requests against the synthesized IAM and bucket policies, the way IAM decides within one account.

moto does not evaluate policies, so this is how a test asks "may the Train role overwrite models/x?" of the very
templates `cdk deploy` would create: an explicit Deny in any applicable policy wins; otherwise an Allow in the
role's policies or the bucket policy grants; otherwise the request is denied. Only the condition operators the
templates use are implemented; any other raises, so an unknown condition can never pass silently.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ACCOUNT = "111122223333"
PARTITION = "aws"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class PolicyWorld:
    """The resources and exports of a set of synthesized templates, with CloudFormation tokens rendered."""

    def __init__(self, templates: Iterable[Mapping[str, Any]], region: str) -> None:
        self.templates = list(templates)
        self.region = region
        self.exports = {
            output["Export"]["Name"]: (template, output["Value"])
            for template in self.templates
            for output in template.get("Outputs", {}).values()
            if "Export" in output
        }

    def render(self, value: Any, template: Mapping[str, Any]) -> str:
        if isinstance(value, str):
            return value
        ((function, argument),) = value.items()
        if function == "Ref":
            pseudo = {"AWS::Partition": PARTITION, "AWS::AccountId": ACCOUNT, "AWS::Region": self.region}
            return pseudo.get(argument) or f"ref-{argument}"
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(self.render(part, template) for part in parts)
        if function == "Fn::ImportValue":
            exporter, exported = self.exports[argument]
            return self.render(exported, exporter)
        if function == "Fn::GetAtt" and argument[1] == "Arn":
            return self._arn(template, argument[0])
        raise NotImplementedError(f"cannot render {value!r}")

    def _arn(self, template: Mapping[str, Any], logical_id: str) -> str:
        resource = template["Resources"][logical_id]
        kind, properties = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::S3::Bucket":
            return f"arn:{PARTITION}:s3:::bucket-{logical_id.lower()}"
        if kind == "AWS::IAM::Role":
            return f"arn:{PARTITION}:iam::{ACCOUNT}:role/{properties.get('RoleName', logical_id)}"
        return f"arn:{PARTITION}:other:{self.region}:{ACCOUNT}:{logical_id}"

    def role(self, *, role_name: str | None = None, project_name: str | None = None) -> Principal:
        """A role by its name, or the service role of the CodeBuild project of that name."""
        for template in self.templates:
            for logical_id, resource in template["Resources"].items():
                properties = resource.get("Properties", {})
                if resource["Type"] == "AWS::IAM::Role" and role_name and properties.get("RoleName") == role_name:
                    return self._principal(template, logical_id)
                if resource["Type"] == "AWS::CodeBuild::Project" and project_name == properties.get("Name"):
                    return self._principal(template, properties["ServiceRole"]["Fn::GetAtt"][0])
        raise LookupError(f"no role {role_name or project_name!r} in the templates")

    def _principal(self, template: Mapping[str, Any], role_id: str) -> Principal:
        documents = [
            policy["PolicyDocument"] for policy in template["Resources"][role_id]["Properties"].get("Policies", [])
        ]
        documents += [
            resource["Properties"]["PolicyDocument"]
            for resource in template["Resources"].values()
            if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"].get("Roles", [])
        ]
        return Principal(self._arn(template, role_id), [(template, document) for document in documents])

    def bucket_policy(self, bucket_logical_prefix: str) -> tuple[str, list[tuple[Mapping[str, Any], Any]]]:
        """The ARN of the bucket whose logical id starts with the prefix, and its policy document."""
        for template in self.templates:
            for resource in template["Resources"].values():
                if resource["Type"] == "AWS::S3::BucketPolicy":
                    bucket_id = resource["Properties"]["Bucket"]["Ref"]
                    if bucket_id.startswith(bucket_logical_prefix):
                        return self._arn(template, bucket_id), [(template, resource["Properties"]["PolicyDocument"])]
        raise LookupError(f"no bucket policy for {bucket_logical_prefix}*")


@dataclass(frozen=True)
class Principal:
    arn: str
    documents: list[tuple[Mapping[str, Any], Any]]


def _matches(patterns: Iterable[str], value: str, *, case_sensitive: bool = True) -> bool:
    if case_sensitive:
        return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)
    return any(fnmatch.fnmatchcase(value.lower(), pattern.lower()) for pattern in patterns)


def _condition_holds(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, expected in tests.items():
            values = [str(value).lower() if isinstance(value, bool) else str(value) for value in _as_list(expected)]
            actual = context.get(key)
            if operator == "Null":
                holds = (actual is None) == (values == ["true"])
            elif actual is None:
                holds = operator.endswith("NotEquals")  # a missing key never equals anything
            elif operator in ("Bool", "StringEquals", "ArnEquals"):
                holds = actual in values
            elif operator in ("StringNotEquals", "ArnNotEquals"):
                holds = actual not in values
            elif operator in ("StringLike", "ArnLike"):
                holds = _matches(values, actual)
            else:
                raise NotImplementedError(f"condition operator {operator} is not evaluated here")
            if not holds:
                return False
    return True


def _applies(
    world: PolicyWorld, template: Mapping[str, Any], statement: Mapping[str, Any], request: Request, principal: str
) -> bool:
    if "Principal" in statement:
        named = statement["Principal"]
        arns = ["*"] if named == "*" else [world.render(arn, template) for arn in _as_list(named.get("AWS", []))]
        if "*" not in arns and principal not in arns:
            return False
    resources = [world.render(resource, template) for resource in _as_list(statement.get("Resource", []))]
    return (
        _matches(_as_list(statement["Action"]), request.action, case_sensitive=False)
        and _matches(resources, request.resource)
        and _condition_holds(
            {
                operator: {key: [world.render(v, template) for v in _as_list(value)] for key, value in tests.items()}
                for operator, tests in statement.get("Condition", {}).items()
            },
            {**request.context, "aws:PrincipalArn": principal},
        )
    )


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: Mapping[str, str]


def allowed(
    world: PolicyWorld, principal: Principal, bucket_prefix: str, action: str, key: str, **context: str
) -> bool:
    """May `principal` perform `action` on object `key` of the bucket? `context`: e.g. if_none_match="*"."""
    bucket_arn, bucket_documents = world.bucket_policy(bucket_prefix)
    request_context = {f"s3:{name.replace('_', '-')}": value for name, value in context.items()}
    if action == "s3:PutObject":
        request_context.setdefault("s3:ObjectCreationOperation", "true")
    request = Request(action, f"{bucket_arn}/{key}", request_context)
    decisions = [
        statement.get("Effect", "Allow")
        for template, document in [*principal.documents, *bucket_documents]
        for statement in document["Statement"]
        if _applies(world, template, statement, request, principal.arn)
    ]
    return "Deny" not in decisions and "Allow" in decisions
