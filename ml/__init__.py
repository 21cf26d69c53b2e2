"""The example model: a binary classifier over 8 tabular features, served by SageMaker's scikit-learn container.

Replace it by keeping the contract of `ml.build.build_model` and `ml.serving` (see docs/model.md).
"""
