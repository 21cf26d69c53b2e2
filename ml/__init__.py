"""The example model: a binary classifier over 8 tabular features, served by SageMaker's scikit-learn container.

cdk.json's `model` section names its entry points (`ml.build:train_and_evaluate`, `ml.data:write_sample`, ...);
replace it by naming another package's (see docs/model.md).
"""
