"""What IAM authorizes for one API call: its actions, the ARN of each resource and the condition context, derived
from the request's parameters as the Service Authorization Reference lists them
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).

Where the reference lists no resource type for an action, the request is evaluated against `*`. Calls that make a
service act for the caller are expanded too: an S3 object write or read of an SSE-KMS bucket needs the caller's
kms:GenerateDataKey or kms:Decrypt through S3 (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html),
an item read or write of a DynamoDB table under a customer managed key its kms:Decrypt through DynamoDB
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html), and CreateModel
passes the execution role (iam:PassRole) that SageMaker then uses to read the model data.

An operation without a mapping here raises `IamEvaluationError`: a call nobody mapped is never allowed silently.
Kept to the standard library (test subprocesses load it by path).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

try:
    from testbed.iam_eval import PARTITION, IamEvaluationError, PolicyWorld
except ImportError:  # loaded by path in a test subprocess, next to iam_eval
    from _strict_iam_eval import PARTITION, IamEvaluationError, PolicyWorld  # type: ignore[no-redef]

Context = dict[str, Sequence[str] | None]


@dataclass(frozen=True)
class Needed:
    """One authorization a call needs; `principal` when it is not the caller's (a role the service then uses)."""

    action: str
    resource: str
    context: Context
    principal: str | None = None


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: Mapping[str, Any]
    region: str
    account: str
    world: PolicyWorld

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{PARTITION}:{service}:{self.region}:{self.account}:{resource}"


def _tags(tags: Any) -> Context:
    """aws:TagKeys and aws:RequestTag/<key> of a request that writes tags (a list of {Key, Value} or a map)."""
    pairs = [(tag["Key"], tag["Value"]) for tag in tags] if isinstance(tags, list) else list((tags or {}).items())
    context: Context = {"aws:TagKeys": [key for key, _ in pairs] or None}
    context |= {f"aws:RequestTag/{key}": [value] for key, value in pairs}
    return context


# --- S3 -----------------------------------------------------------------------------------------------------------

S3_OBJECT_CONTEXT = ("s3:if-none-match", "s3:ObjectCreationOperation", "s3:x-amz-acl", "s3:prefix")


def _object(call: Call, bucket: str, key: str) -> str:
    return f"arn:{PARTITION}:s3:::{bucket}/{key}"


def _s3_context(params: Mapping[str, Any], *, creates: bool = False) -> Context:
    context: Context = dict.fromkeys(S3_OBJECT_CONTEXT)
    if params.get("IfNoneMatch") is not None:
        context["s3:if-none-match"] = [params["IfNoneMatch"]]
    if params.get("ACL") is not None:
        context["s3:x-amz-acl"] = [params["ACL"]]
    context["s3:ObjectCreationOperation"] = ["true"] if creates else None
    return context


def _kms_through_s3(call: Call, bucket: str, key: str, action: str, key_id: str | None = None) -> list[Needed]:
    """The caller's use of the object's KMS key through S3: the key the request names, else the bucket's default
    (none for S3-managed keys or the AWS managed aws/s3 key, whose policy AWS keeps)."""
    default, bucket_key = call.world.key_of_bucket(bucket)
    kms_key = key_id or default
    if kms_key is None:
        return []
    # The encryption context is the bucket's ARN with an S3 Bucket Key, the object's without one.
    encryption_arn = f"arn:{PARTITION}:s3:::{bucket}" if bucket_key else _object(call, bucket, key)
    context: Context = {
        "kms:ViaService": [f"s3.{call.region}.amazonaws.com"],
        "kms:CallerAccount": [call.account],
        "kms:EncryptionContext:aws:s3:arn": [encryption_arn],
        "kms:EncryptionContextKeys": ["aws:s3:arn"],
    }
    if not kms_key.startswith("arn:"):
        kms_key = call.arn("kms", f"key/{kms_key}")
    return [Needed(action, kms_key, context)]


def _s3_read(call: Call, bucket: str, key: str, version: str | None, *, body: bool) -> list[Needed]:
    action = "s3:GetObjectVersion" if version else "s3:GetObject"
    needed = [Needed(action, _object(call, bucket, key), _s3_context({}))]
    return needed + (_kms_through_s3(call, bucket, key, "kms:Decrypt") if body else [])


def _s3_write(call: Call, params: Mapping[str, Any]) -> list[Needed]:
    bucket, key = params["Bucket"], params["Key"]
    needed = [Needed("s3:PutObject", _object(call, bucket, key), _s3_context(params, creates=True))]
    return needed + _kms_through_s3(call, bucket, key, "kms:GenerateDataKey", params.get("SSEKMSKeyId"))


def _copy_source(params: Mapping[str, Any]) -> tuple[str, str, str | None]:
    source = params["CopySource"]
    if isinstance(source, str):
        path, _, query = source.partition("?versionId=")
        bucket, key = path.lstrip("/").split("/", 1)
        return bucket, key, query or None
    return source["Bucket"], source["Key"], source.get("VersionId")


def _s3_list(action: str) -> Callable[[Call], list[Needed]]:
    def needed(call: Call) -> list[Needed]:
        prefix = call.params.get("Prefix")
        context: Context = {**dict.fromkeys(S3_OBJECT_CONTEXT), "s3:prefix": None if prefix is None else [prefix]}
        return [Needed(action, f"arn:{PARTITION}:s3:::{call.params['Bucket']}", context)]

    return needed


def _s3_bucket(action: str) -> Callable[[Call], list[Needed]]:
    return lambda call: [
        Needed(action, f"arn:{PARTITION}:s3:::{call.params['Bucket']}", dict.fromkeys(S3_OBJECT_CONTEXT))
    ]


def _s3_object(action: str, versioned: str | None = None) -> Callable[[Call], list[Needed]]:
    def needed(call: Call) -> list[Needed]:
        chosen = versioned if versioned and call.params.get("VersionId") else action
        return [Needed(chosen, _object(call, call.params["Bucket"], call.params["Key"]), _s3_context(call.params))]

    return needed


S3: dict[str, Callable[[Call], list[Needed]]] = {
    "GetObject": lambda c: _s3_read(c, c.params["Bucket"], c.params["Key"], c.params.get("VersionId"), body=True),
    # HeadObject needs s3:GetObject and returns no body, so no KMS decryption.
    "HeadObject": lambda c: _s3_read(c, c.params["Bucket"], c.params["Key"], c.params.get("VersionId"), body=False),
    "PutObject": lambda c: _s3_write(c, c.params),
    "CreateMultipartUpload": lambda c: _s3_write(c, c.params),
    "UploadPart": _s3_object("s3:PutObject"),
    "CompleteMultipartUpload": lambda c: [
        Needed("s3:PutObject", _object(c, c.params["Bucket"], c.params["Key"]), _s3_context(c.params, creates=True))
    ],
    "AbortMultipartUpload": _s3_object("s3:AbortMultipartUpload"),
    "CopyObject": lambda c: [
        *_s3_write(c, c.params),
        *_s3_read(c, *_copy_source(c.params), body=True),
    ],
    "DeleteObject": _s3_object("s3:DeleteObject", "s3:DeleteObjectVersion"),
    "GetObjectTagging": _s3_object("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    "GetObjectRetention": _s3_object("s3:GetObjectRetention"),
    "GetObjectLegalHold": _s3_object("s3:GetObjectLegalHold"),
    "ListObjectsV2": _s3_list("s3:ListBucket"),
    "ListObjects": _s3_list("s3:ListBucket"),
    "ListObjectVersions": _s3_list("s3:ListBucketVersions"),
    "HeadBucket": _s3_list("s3:ListBucket"),
    "ListBuckets": lambda call: [Needed("s3:ListAllMyBuckets", "*", {})],  # no resource type
    "GetBucketVersioning": _s3_bucket("s3:GetBucketVersioning"),
    "GetObjectLockConfiguration": _s3_bucket("s3:GetBucketObjectLockConfiguration"),
    "GetBucketLocation": _s3_bucket("s3:GetBucketLocation"),
}


# --- SageMaker ------------------------------------------------------------------------------------------------------

_LOWERCASED = ("endpoint", "endpoint-config", "model", "training-job", "processing-job", "pipeline")


def sagemaker_arn(call: Call, kind: str, name: str) -> str:
    """SageMaker's ARN of a resource named `name` (SageMaker lowercases most names in ARNs), or `name` as given."""
    if name.startswith("arn:"):
        return name
    return call.arn("sagemaker", f"{kind}/{name.lower() if kind in _LOWERCASED else name}")


def _package(call: Call, name: str) -> str:
    """A package by ARN or name; an unversioned name is a package of its own, not of a group."""
    return sagemaker_arn(call, "model-package", name)


def _sm(action: str, kind: str, parameter: str, context: Callable[[Call], Context] | None = None):
    def needed(call: Call) -> list[Needed]:
        return [Needed(action, sagemaker_arn(call, kind, call.params[parameter]), context(call) if context else {})]

    return needed


def _any(action: str) -> Callable[[Call], list[Needed]]:
    """An action the Service Authorization Reference lists without a resource type: evaluated against `*`."""
    return lambda call: [Needed(action, "*", {})]


def _scalable_target(call: Call, context: Context, operation: str = "RegisterScalableTarget") -> list[Needed]:
    """A write on a scalable target: its ARN ends in an id Application Auto Scaling generates (none the caller
    names), and the request carries the target's service namespace and scalable dimension as condition keys."""
    arn = call.arn("application-autoscaling", "scalable-target/generated-id")
    keys = {
        "application-autoscaling:service-namespace": [call.params["ServiceNamespace"]],
        "application-autoscaling:scalable-dimension": [call.params["ScalableDimension"]],
    }
    return [Needed(f"application-autoscaling:{operation}", arn, {**keys, **context})]


def _approval(call: Call) -> Context:
    status = call.params.get("ModelApprovalStatus")
    return {"sagemaker:ModelApprovalStatus": None if status is None else [status]}


def _create_model(call: Call) -> list[Needed]:
    name = call.params["ModelName"]
    needed = [Needed("sagemaker:CreateModel", sagemaker_arn(call, "model", name), _tags(call.params.get("Tags")))]
    role = call.params.get("ExecutionRoleArn")
    if role:
        needed.append(_pass_role_to_sagemaker(role))
        # SageMaker reads each container's model data as the execution role.
        containers = call.params.get("Containers") or [call.params.get("PrimaryContainer") or {}]
        for container in containers:
            url = container.get("ModelDataUrl")
            if url:
                bucket, key = url.removeprefix("s3://").split("/", 1)
                needed += [
                    Needed(n.action, n.resource, n.context, principal=role)
                    for n in _s3_read(call, bucket, key, None, body=True)
                ]
    return needed


def _create_endpoint(call: Call) -> list[Needed]:
    tags = _tags(call.params.get("Tags"))
    return [
        Needed("sagemaker:CreateEndpoint", sagemaker_arn(call, "endpoint", call.params["EndpointName"]), tags),
        Needed(
            "sagemaker:CreateEndpoint", sagemaker_arn(call, "endpoint-config", call.params["EndpointConfigName"]), tags
        ),
    ]


def _update_endpoint(call: Call) -> list[Needed]:
    return [
        Needed("sagemaker:UpdateEndpoint", sagemaker_arn(call, "endpoint", call.params["EndpointName"]), {}),
        Needed(
            "sagemaker:UpdateEndpoint", sagemaker_arn(call, "endpoint-config", call.params["EndpointConfigName"]), {}
        ),
    ]


def _create_endpoint_config(call: Call) -> list[Needed]:
    arn = sagemaker_arn(call, "endpoint-config", call.params["EndpointConfigName"])
    return [Needed("sagemaker:CreateEndpointConfig", arn, _tags(call.params.get("Tags")))]


def _create_model_package(call: Call) -> list[Needed]:
    group = call.params.get("ModelPackageGroupName")
    context = {**_approval(call), **_tags(call.params.get("Tags"))}
    if group is None:
        return [Needed("sagemaker:CreateModelPackage", _package(call, call.params["ModelPackageName"]), context)]
    group_name = group.rsplit("/", 1)[-1]
    # The new version's ARN is `model-package/<group>/<version>`; no policy of ours pins a version number.
    return [Needed("sagemaker:CreateModelPackage", sagemaker_arn(call, "model-package", f"{group_name}/1"), context)]


def _add_tags(call: Call) -> list[Needed]:
    return [Needed("sagemaker:AddTags", call.params["ResourceArn"], _tags(call.params["Tags"]))]


SAGEMAKER: dict[str, Callable[[Call], list[Needed]]] = {
    "DescribeEndpoint": _sm("sagemaker:DescribeEndpoint", "endpoint", "EndpointName"),
    "DescribeEndpointConfig": _sm("sagemaker:DescribeEndpointConfig", "endpoint-config", "EndpointConfigName"),
    "DescribeModel": _sm("sagemaker:DescribeModel", "model", "ModelName"),
    "DeleteModel": _sm("sagemaker:DeleteModel", "model", "ModelName"),
    "DeleteEndpointConfig": _sm("sagemaker:DeleteEndpointConfig", "endpoint-config", "EndpointConfigName"),
    "DeleteEndpoint": _sm("sagemaker:DeleteEndpoint", "endpoint", "EndpointName"),
    "CreateModel": _create_model,
    "CreateEndpoint": _create_endpoint,
    "CreateEndpointConfig": _create_endpoint_config,
    "UpdateEndpoint": _update_endpoint,
    "UpdateEndpointWeightsAndCapacities": _sm(
        "sagemaker:UpdateEndpointWeightsAndCapacities", "endpoint", "EndpointName"
    ),
    "DescribeModelPackage": lambda c: [
        Needed("sagemaker:DescribeModelPackage", _package(c, c.params["ModelPackageName"]), {})
    ],
    "UpdateModelPackage": lambda c: [
        Needed("sagemaker:UpdateModelPackage", _package(c, c.params["ModelPackageArn"]), _approval(c))
    ],
    "CreateModelPackage": _create_model_package,
    "DescribeModelPackageGroup": _sm(
        "sagemaker:DescribeModelPackageGroup", "model-package-group", "ModelPackageGroupName"
    ),
    "CreateModelPackageGroup": lambda c: [
        Needed(
            "sagemaker:CreateModelPackageGroup",
            sagemaker_arn(c, "model-package-group", c.params["ModelPackageGroupName"]),
            _tags(c.params.get("Tags")),
        )
    ],
    "AddTags": _add_tags,
    "DeleteTags": lambda c: [
        Needed("sagemaker:DeleteTags", c.params["ResourceArn"], {"aws:TagKeys": list(c.params["TagKeys"])})
    ],
    "ListTags": lambda c: [Needed("sagemaker:ListTags", c.params["ResourceArn"], {})],
    "ListModelPackages": _any("sagemaker:ListModelPackages"),
    "ListModelPackageGroups": _any("sagemaker:ListModelPackageGroups"),
    "ListEndpoints": _any("sagemaker:ListEndpoints"),
    "ListEndpointConfigs": _any("sagemaker:ListEndpointConfigs"),
    "ListModels": _any("sagemaker:ListModels"),
    "StartPipelineExecution": _sm("sagemaker:StartPipelineExecution", "pipeline", "PipelineName"),
    "CreatePipeline": lambda c: _pipeline_write(c, "sagemaker:CreatePipeline"),
    "UpdatePipeline": lambda c: _pipeline_write(c, "sagemaker:UpdatePipeline"),
    "DescribePipeline": _sm("sagemaker:DescribePipeline", "pipeline", "PipelineName"),
    # An execution's ARN is the pipeline's followed by /execution/<id>: the pipeline-execution resource type.
    "DescribePipelineExecution": _sm("sagemaker:DescribePipelineExecution", "pipeline", "PipelineExecutionArn"),
    "ListPipelineExecutionSteps": _sm("sagemaker:ListPipelineExecutionSteps", "pipeline", "PipelineExecutionArn"),
    "StopPipelineExecution": _sm("sagemaker:StopPipelineExecution", "pipeline", "PipelineExecutionArn"),
    "DescribeTrainingJob": _sm("sagemaker:DescribeTrainingJob", "training-job", "TrainingJobName"),
}


def _pipeline_write(call: Call, action: str) -> list[Needed]:
    """A pipeline's definition and the role its steps run as: handing over the role is iam:PassRole."""
    arn = sagemaker_arn(call, "pipeline", call.params["PipelineName"])
    needed = [Needed(action, arn, _tags(call.params.get("Tags")))]
    role = call.params.get("RoleArn")
    if role:
        needed.append(_pass_role_to_sagemaker(role))
    return needed


def _pass_role_to_sagemaker(role: str) -> Needed:
    return Needed("iam:PassRole", role, {"iam:PassedToService": ["sagemaker.amazonaws.com"]})


# --- the other services ---------------------------------------------------------------------------------------------


def _ssm_parameter(call: Call, name: str) -> str:
    return name if name.startswith("arn:") else call.arn("ssm", f"parameter/{name.lstrip('/')}")


def _metric_data(call: Call) -> list[Needed]:
    return [Needed("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": [call.params["Namespace"]]})]


def _describe_alarms(call: Call) -> list[Needed]:
    names = call.params.get("AlarmNames")
    if not names:
        return [Needed("cloudwatch:DescribeAlarms", "*", {})]
    return [Needed("cloudwatch:DescribeAlarms", call.arn("cloudwatch", f"alarm:{name}"), {}) for name in names]


def _put_events(call: Call) -> list[Needed]:
    needed = []
    for entry in call.params["Entries"]:
        bus = entry.get("EventBusName") or "default"
        arn = bus if bus.startswith("arn:") else call.arn("events", f"event-bus/{bus}")
        context: Context = {"events:source": [entry["Source"]], "events:detail-type": [entry["DetailType"]]}
        needed.append(Needed("events:PutEvents", arn, context))
    return needed


def _table(call: Call, name: str | None = None) -> str:
    name = name or call.params["TableName"]
    return name if name.startswith("arn:") else call.arn("dynamodb", f"table/{name}")


def _kms_through_dynamodb(call: Call, table: str) -> list[Needed]:
    """Reading or writing the items of a table under a customer managed key: DynamoDB decrypts the table key with
    KMS for the principal that accesses the table (docs/aws-behaviours.md); none for AWS owned or managed keys."""
    name = table.rsplit("/", 1)[-1] if table.startswith("arn:") else table
    key = call.world.key_of_table(name)
    if key is None:
        return []
    context: Context = {
        "kms:ViaService": [f"dynamodb.{call.region}.amazonaws.com"],
        "kms:CallerAccount": [call.account],
        "kms:EncryptionContext:aws:dynamodb:tableName": [name],
        "kms:EncryptionContext:aws:dynamodb:subscriberId": [call.account],
        "kms:EncryptionContextKeys": ["aws:dynamodb:tableName", "aws:dynamodb:subscriberId"],
    }
    return [Needed("kms:Decrypt", key, context)]


def _dynamodb(action: str, *, items: bool = True) -> Callable[[Call], list[Needed]]:
    def needed(call: Call) -> list[Needed]:
        index = call.params.get("IndexName")
        table = Needed(action, _table(call) + (f"/index/{index}" if index else ""), {})
        return [table, *(_kms_through_dynamodb(call, call.params["TableName"]) if items else [])]

    return needed


def _transact_write(call: Call) -> list[Needed]:
    actions = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
    return [
        needed
        for item in call.params["TransactItems"]
        for kind, request in item.items()
        for needed in (
            Needed(f"dynamodb:{actions[kind]}", _table(call, request["TableName"]), {}),
            *_kms_through_dynamodb(call, request["TableName"]),
        )
    ]


def _kms_key(action: str) -> Callable[[Call], list[Needed]]:
    def needed(call: Call) -> list[Needed]:
        key = call.params.get("KeyId")
        if key is None:
            raise IamEvaluationError(f"kms {action}: no KeyId in the request, so its key cannot be named")
        arn = key if key.startswith("arn:") else call.arn("kms", f"key/{key}")
        return [Needed(action, arn, {"kms:CallerAccount": [call.account], "kms:ViaService": None})]

    return needed


def _function(call: Call, name: str) -> str:
    return name if name.startswith("arn:") else call.arn("lambda", f"function:{name}")


def _get_secret_value(call: Call) -> list[Needed]:
    """The secret, and kms:Decrypt of its customer managed key through Secrets Manager, encryption context SecretARN
    (https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html). A secret named rather
    than given by ARN is evaluated by its name alone (its ARN's random suffix is unknown): no policy pattern of ours
    matches it."""
    secret = call.params["SecretId"]
    arn = secret if secret.startswith("arn:") else call.arn("secretsmanager", f"secret:{secret}")
    needed = [Needed("secretsmanager:GetSecretValue", arn, {})]
    key = call.world.key_of_secret(arn)
    if key is not None:
        context: Context = {
            "kms:ViaService": [f"secretsmanager.{call.region}.amazonaws.com"],
            "kms:CallerAccount": [call.account],
            "kms:EncryptionContext:SecretARN": [arn],
            "kms:EncryptionContextKeys": ["SecretARN", "SecretVersionId"],
        }
        needed.append(Needed("kms:Decrypt", key, context))
    return needed


OTHERS: dict[tuple[str, str], Callable[[Call], list[Needed]]] = {
    ("secretsmanager", "GetSecretValue"): _get_secret_value,
    ("ssm", "GetParameter"): lambda c: [Needed("ssm:GetParameter", _ssm_parameter(c, c.params["Name"]), {})],
    ("ssm", "GetParameters"): lambda c: [
        Needed("ssm:GetParameters", _ssm_parameter(c, name), {}) for name in c.params["Names"]
    ],
    ("ssm", "GetParametersByPath"): lambda c: [
        Needed("ssm:GetParametersByPath", _ssm_parameter(c, c.params["Path"].rstrip("/")), {})
    ],
    ("ssm", "PutParameter"): lambda c: [Needed("ssm:PutParameter", _ssm_parameter(c, c.params["Name"]), {})],
    ("cloudwatch", "PutMetricData"): _metric_data,
    ("cloudwatch", "GetMetricData"): _any("cloudwatch:GetMetricData"),
    ("cloudwatch", "GetMetricStatistics"): _any("cloudwatch:GetMetricStatistics"),
    ("cloudwatch", "ListMetrics"): _any("cloudwatch:ListMetrics"),
    ("cloudwatch", "DescribeAlarms"): _describe_alarms,
    ("events", "PutEvents"): _put_events,
    ("sagemaker-runtime", "InvokeEndpoint"): lambda c: [
        Needed("sagemaker:InvokeEndpoint", sagemaker_arn(c, "endpoint", c.params["EndpointName"]), {})
    ],
    ("application-autoscaling", "RegisterScalableTarget"): lambda c: _scalable_target(c, _tags(c.params.get("Tags"))),
    **{
        ("application-autoscaling", operation): lambda c, operation=operation: _scalable_target(c, {}, operation)
        for operation in ("PutScalingPolicy", "DeleteScalingPolicy", "DeregisterScalableTarget")
    },
    **{
        ("application-autoscaling", operation): _any(f"application-autoscaling:{operation}")
        for operation in ("DescribeScalableTargets", "DescribeScalingPolicies")
    },
    ("dynamodb", "GetItem"): _dynamodb("dynamodb:GetItem"),
    ("dynamodb", "PutItem"): _dynamodb("dynamodb:PutItem"),
    ("dynamodb", "UpdateItem"): _dynamodb("dynamodb:UpdateItem"),
    ("dynamodb", "DeleteItem"): _dynamodb("dynamodb:DeleteItem"),
    ("dynamodb", "Query"): _dynamodb("dynamodb:Query"),
    ("dynamodb", "DescribeTable"): _dynamodb("dynamodb:DescribeTable", items=False),
    ("dynamodb", "TransactWriteItems"): _transact_write,
    ("kms", "Decrypt"): _kms_key("kms:Decrypt"),
    ("kms", "Encrypt"): _kms_key("kms:Encrypt"),
    ("kms", "GenerateDataKey"): _kms_key("kms:GenerateDataKey"),
    ("kms", "DescribeKey"): _kms_key("kms:DescribeKey"),
    ("sns", "Publish"): lambda c: [Needed("sns:Publish", c.params.get("TopicArn") or c.params["TargetArn"], {})],
    ("lambda", "Invoke"): lambda c: [
        Needed("lambda:InvokeFunction", _function(c, c.params["FunctionName"]), {}),
    ],
    # Served by doubles (rehearsal/pipeline_double.py), which ask through `iam_enforcement.authorize`.
    ("codepipeline", "ListActionExecutions"): lambda c: [
        Needed("codepipeline:ListActionExecutions", c.arn("codepipeline", c.params["pipelineName"]), {})
    ],
    ("codepipeline", "PutJobSuccessResult"): _any("codepipeline:PutJobSuccessResult"),
    ("codepipeline", "PutJobFailureResult"): _any("codepipeline:PutJobFailureResult"),
    **{
        ("codecommit", operation): lambda c, operation=operation: [
            Needed(f"codecommit:{operation}", c.arn("codecommit", c.params["repositoryName"]), {})
        ]
        for operation in ("GetBranch", "PutFile", "GetFile")
    },
    ("sts", "GetCallerIdentity"): lambda c: [],  # needs no permission
    ("iam", "SimulatePrincipalPolicy"): lambda c: [
        Needed("iam:SimulatePrincipalPolicy", c.params["PolicySourceArn"], {})
    ],
}


def needed(call: Call) -> list[Needed]:
    """Every authorization `call` needs; raises for an operation nobody mapped."""
    table = {"s3": S3, "sagemaker": SAGEMAKER}.get(call.service)
    mapping = table.get(call.operation) if table is not None else OTHERS.get((call.service, call.operation))
    if mapping is None:
        raise IamEvaluationError(f"no IAM mapping for {call.service} {call.operation}: add it to iam_requests.py")
    return mapping(call)
