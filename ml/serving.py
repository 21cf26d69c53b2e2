"""How the artifact is served: SageMaker's prebuilt scikit-learn container, its version and its settings.

The image URI is resolved for the region by the SageMaker library (its table of per-region registries), never
written here. `FRAMEWORK_VERSION` and the scikit-learn pin in `ml/requirements.txt` move together (a test checks).
"""

from __future__ import annotations

import tarfile
from pathlib import Path

FRAMEWORK = "sklearn"
FRAMEWORK_VERSION = "1.9-0"
CONTENT_TYPE = "text/csv"
RESPONSE_TYPE = "text/csv"
ARTIFACT_NAME = "model.tar.gz"
CODE_DIR = "code"
ENTRY_POINT = "inference.py"
# The container imports the entry point from here after unpacking model.tar.gz into /opt/ml/model.
ENVIRONMENT = {"SAGEMAKER_PROGRAM": ENTRY_POINT, "SAGEMAKER_SUBMIT_DIRECTORY": f"/opt/ml/model/{CODE_DIR}"}


def training_library_version() -> str:
    """The scikit-learn release this container runs ("1.9-0" -> "1.9.0"); training must use the same one."""
    release, _, build = FRAMEWORK_VERSION.partition("-")
    return f"{release}.{build}"


def image_uri(region: str) -> str:
    from sagemaker.core import image_uris  # heavy import: only the registering step needs it

    return image_uris.retrieve(framework=FRAMEWORK, region=region, version=FRAMEWORK_VERSION, image_scope="inference")


def package_artifact(model_file: Path, out_dir: Path) -> Path:
    """model.tar.gz: the model at the root and the entry point under code/, as the container expects."""
    out_dir.mkdir(parents=True, exist_ok=True)
    artifact = out_dir / ARTIFACT_NAME
    with tarfile.open(artifact, "w:gz") as archive:
        archive.add(model_file, arcname=model_file.name)
        archive.add(Path(__file__).parent / ENTRY_POINT, arcname=f"{CODE_DIR}/{ENTRY_POINT}")
    return artifact
