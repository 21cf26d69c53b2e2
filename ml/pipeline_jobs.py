"""The SageMaker Pipeline's job scripts, run inside SageMaker's scikit-learn container (see ml/pipeline.py).

They reuse the same data, training and evaluation code as a build-side release, so both paths produce the same kind
of artifact and report. Both jobs split the data with the same seed, so evaluation sees exactly the hold-out that
training never saw.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ml.data import Dataset

# Container paths: SageMaker mounts inputs and collects outputs here.
TRAINING_DATA_DIR = "/opt/ml/input/data/train"
MODEL_DIR = "/opt/ml/model"
PROCESSING_ROOT = "/opt/ml/processing"
PACKAGE_INPUT = f"{PROCESSING_ROOT}/input/ml"
MODEL_INPUT = f"{PROCESSING_ROOT}/model"
DATA_INPUT = f"{PROCESSING_ROOT}/data"
EVALUATION_OUTPUT = f"{PROCESSING_ROOT}/evaluation"


def train_job(data_dir: Path, model_dir: Path, seed: int) -> Path:
    """Fit on the training split and leave model.joblib plus code/inference.py for SageMaker to pack."""
    from ml import serving, train
    from ml.build import split

    training, _ = split(_read_dataset(data_dir), seed=seed)
    model_file = train.save_model(train.train(training, seed=seed), model_dir)
    (model_dir / serving.CODE_DIR).mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(serving.__file__).parent / serving.ENTRY_POINT, model_dir / serving.CODE_DIR)
    return model_file


def evaluate_job(
    model_dir: Path,
    data_dir: Path,
    output_dir: Path,
    seed: int,
    *,
    model_uri: str,
    report: str,
    scores: str,
    record: str,
) -> Path:
    """Score the hold-out split with the artifact at `model_uri` (mounted in `model_dir`); write the model-quality
    report, the held-out scores (the prediction-drift reference) and a record of the exact bytes scored, under the
    file names the platform reads them by (ml/pipeline.py passes them)."""
    from ml import evaluate, train
    from ml.build import split

    archive_path = model_dir / model_uri.rsplit("/", 1)[-1]  # that object, not whatever else shares its prefix
    digest = hashlib.sha256(archive_path.read_bytes()).hexdigest()
    with tarfile.open(archive_path) as archive:
        archive.extractall(model_dir, filter="data")
    _, holdout = split(_read_dataset(data_dir), seed=seed)
    predicted = train.load_model(model_dir).predict_proba(holdout.features)[:, 1]
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / scores).write_text(json.dumps({"scores": predicted.tolist()}))
    (output_dir / record).write_text(json.dumps({"uri": model_uri, "sha256": digest}))
    return evaluate.write_report(evaluate.model_quality_report(predicted, holdout, seed=seed), output_dir / report)


def _read_dataset(data_dir: Path) -> Dataset:
    from ml.data import read_csv

    files = sorted(data_dir.glob("*.csv"))
    if len(files) != 1:
        raise ValueError(f"{data_dir} must hold exactly one CSV file, found {[file.name for file in files]}")
    return read_csv(files[0])


def main(argv: Sequence[str] | None = None) -> int:
    # Training runs this file from the uploaded source directory (<root>/ml/), processing from its code input
    # (<input>/code/) with the package mounted at <input>/ml: either way the grandparent folder holds `ml/`.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", choices=["train", "evaluate"], default="train")
    parser.add_argument("--seed", type=int, required=True)
    # Evaluation: where the processing job mounts its inputs and collects its output (ml/pipeline.py names them in
    # the job's arguments, as it does in its inputs), and the file names the platform reads.
    for name in ("model-dir", "data-dir", "output-dir", "model-uri", "report", "scores", "record"):
        parser.add_argument(f"--{name}", help="evaluate only")
    args = parser.parse_args(argv)
    if args.job == "train":
        # SM_MODEL_DIR and SM_CHANNEL_TRAIN are what SageMaker's training drivers set.
        data_dir = os.environ.get("SM_CHANNEL_TRAIN", TRAINING_DATA_DIR)
        train_job(Path(data_dir), Path(os.environ.get("SM_MODEL_DIR", MODEL_DIR)), args.seed)
        return 0
    needed = ("model_dir", "data_dir", "output_dir", "model_uri", "report", "scores", "record")
    missing = [name for name in needed if not getattr(args, name)]
    if missing:
        parser.error(f"--job evaluate needs {', '.join('--' + name.replace('_', '-') for name in missing)}")
    evaluate_job(
        Path(args.model_dir),
        Path(args.data_dir),
        Path(args.output_dir),
        args.seed,
        model_uri=args.model_uri,
        report=args.report,
        scores=args.scores,
        record=args.record,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
