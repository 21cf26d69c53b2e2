"""The SageMaker Pipeline used when `USE_SM_PIPELINE=true`: train -> evaluate -> check the metrics' minimums.

Defined with the SageMaker Python SDK (v3, `ml/requirements-pipeline.txt`). The jobs run `ml/pipeline_jobs.py` in
the same prebuilt scikit-learn image the endpoint serves with, so the artifact is trained, evaluated and served by
one scikit-learn. A candidate below a minimum of `model.metrics` stops at a Fail step. The pipeline registers
nothing: Evaluate writes what the plug-in contract asks (PIPELINE_* in safedeploy/build_steps/model_plugin.py: the
report, the held-out scores and a record of the model bytes it scored) where `spec.evaluation_uri` says, and the Train
build copies them into the write-once prefixes, records their digests and the drift baseline, and registers the
package exactly as a build-side release does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ml import pipeline_jobs, serving
from ml.evaluate import REPORT_KEY
from safedeploy.build_steps.model_plugin import (
    PIPELINE_EVALUATE_STEP,
    PIPELINE_MODEL_RECORD,
    PIPELINE_REPORT_NAME,
    PIPELINE_SCORES_NAME,
    PipelineSpec,
)

TRAIN_STEP = "Train"
EVALUATION_OUTPUT = "evaluation"

CONDITION_STEP = "CheckQuality"
FAIL_STEP = "BelowQualityBar"
JOB_INSTANCE_TYPE = "ml.m5.large"


def build_pipeline(spec: PipelineSpec, boto_session: Any) -> Any:
    """The Pipeline object; `upsert(role_arn=...)` and `start(parameters=...)` run it."""
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig, SourceCode
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterString
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow import ConditionStep, FailStep, Pipeline, ProcessingStep, TrainingStep
    from sagemaker.train.model_trainer import ModelTrainer

    # The SDK would validate the role by reading it from IAM; the release's build role may not read IAM (it may only
    # simulate this one role's policy, for the SDK's choice of staging bucket: stacks/pipeline/permissions.py), and
    # the role is this environment's own execution role (SSM), so the check could only fail for the wrong reason.
    os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")
    session = PipelineSession(
        boto_session=boto_session, default_bucket=spec.artifacts_bucket, default_bucket_prefix=spec.work_prefix
    )
    input_data = ParameterString("InputDataUri")
    commit_id = ParameterString("CommitId", default_value="unknown")
    image = serving.image_uri(spec.region)
    job_script = f"{Path(pipeline_jobs.__file__).parent.name}/{Path(pipeline_jobs.__file__).name}"

    trainer = ModelTrainer(
        sagemaker_session=session,
        role=spec.role_arn,
        training_image=image,
        source_code=SourceCode(source_dir=str(spec.code_dir), entry_script=job_script),
        hyperparameters={"seed": spec.seed},
        compute=Compute(instance_type=JOB_INSTANCE_TYPE, instance_count=1, volume_kms_key_id=spec.kms_key_arn),
        output_data_config=OutputDataConfig(
            s3_output_path=f"s3://{spec.artifacts_bucket}/{spec.work_prefix}/models", kms_key_id=spec.kms_key_arn
        ),
        input_data_config=[InputData(channel_name="train", data_source=input_data, content_type="text/csv")],
        base_job_name=f"{spec.name}-train",
    )
    train = TrainingStep(TRAIN_STEP, step_args=trainer.train())
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts

    report = PropertyFile(name="EvaluationReport", output_name=EVALUATION_OUTPUT, path=PIPELINE_REPORT_NAME)
    evaluator = ScriptProcessor(
        role=spec.role_arn,
        image_uri=image,
        command=["python3"],
        instance_count=1,
        instance_type=JOB_INSTANCE_TYPE,
        volume_kms_key=spec.kms_key_arn,
        output_kms_key=spec.kms_key_arn,
        base_job_name=f"{spec.name}-evaluate",
        sagemaker_session=session,
    )

    def processing_input(name: str, source: Any, destination: str) -> ProcessingInput:
        return ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(
                s3_uri=source, local_path=destination, s3_data_type="S3Prefix", s3_input_mode="File"
            ),
        )

    evaluate = ProcessingStep(
        PIPELINE_EVALUATE_STEP,
        step_args=evaluator.run(
            code=str(Path(pipeline_jobs.__file__)),
            inputs=[
                processing_input("model", model_data, pipeline_jobs.MODEL_INPUT),
                processing_input("data", input_data, pipeline_jobs.DATA_INPUT),
                processing_input("ml", str(spec.code_dir / "ml"), pipeline_jobs.PACKAGE_INPUT),
            ],
            outputs=[
                ProcessingOutput(
                    output_name=EVALUATION_OUTPUT,
                    s3_output=ProcessingS3Output(
                        s3_uri=Join(
                            on="/",
                            values=[
                                spec.evaluation_uri,
                                ExecutionVariables.PIPELINE_EXECUTION_ID,
                            ],
                        ),
                        local_path=pipeline_jobs.EVALUATION_OUTPUT,
                        s3_upload_mode="EndOfJob",
                    ),
                )
            ],
            arguments=[
                *("--job", "evaluate", "--seed", str(spec.seed)),
                *("--model-dir", pipeline_jobs.MODEL_INPUT, "--data-dir", pipeline_jobs.DATA_INPUT),
                *("--output-dir", pipeline_jobs.EVALUATION_OUTPUT),
                *(
                    "--report",
                    PIPELINE_REPORT_NAME,
                    "--scores",
                    PIPELINE_SCORES_NAME,
                    "--record",
                    PIPELINE_MODEL_RECORD,
                ),
                *("--model-uri", model_data),
            ],
        ),
        property_files=[report],
    )
    below_bar = FailStep(
        FAIL_STEP,
        error_message=Join(
            on=" ",
            values=[
                "a metric is below its minimum in model.metrics",
                json.dumps(dict(spec.minimums)),
                "for commit",
                commit_id,
            ],
        ),
    )
    condition = ConditionStep(
        CONDITION_STEP,
        conditions=[
            ConditionGreaterThanOrEqualTo(
                left=JsonGet(step_name=evaluate.name, property_file=report, json_path=f"{REPORT_KEY}.{name}.value"),
                right=minimum,
            )
            for name, minimum in spec.minimums.items()
        ],
        if_steps=[],
        else_steps=[below_bar],
    )
    return Pipeline(
        name=spec.name,
        parameters=[input_data, commit_id],
        steps=[train, evaluate, condition],
        sagemaker_session=session,
    )
