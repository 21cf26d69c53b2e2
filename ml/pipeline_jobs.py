"""The SageMaker Pipeline's job scripts, run inside SageMaker's scikit-learn container (see ml/pipeline.py).

They reuse the same data, training and evaluation code as a build-side release, so both paths produce the same kind
of artifact and report. Both jobs split the data with the same seed, so evaluation sees exactly the hold-out that
training never saw.
"""

from __future__ import annotations

import argparse
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


def evaluate_job(model_dir: Path, data_dir: Path, output_dir: Path, seed: int) -> Path:
    """Score the hold-out split with the trained artifact and write evaluation.json (model-quality shape)."""
    from ml import evaluate, train
    from ml.build import REPORT_NAME, split

    with tarfile.open(next(model_dir.glob("*.tar.gz"))) as archive:
        archive.extractall(model_dir, filter="data")
    _, holdout = split(_read_dataset(data_dir), seed=seed)
    scores = train.load_model(model_dir).predict_proba(holdout.features)[:, 1]
    return evaluate.write_report(evaluate.model_quality_report(scores, holdout, seed=seed), output_dir / REPORT_NAME)


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
    args = parser.parse_args(argv)
    if args.job == "train":
        train_job(Path(os.environ.get("SM_CHANNEL_TRAIN", TRAINING_DATA_DIR)), Path(MODEL_DIR), args.seed)
    else:
        evaluate_job(Path(MODEL_INPUT), Path(DATA_INPUT), Path(EVALUATION_OUTPUT), args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
