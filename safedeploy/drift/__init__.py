"""Drift and model quality of the live model without SageMaker Model Monitor: the training-time baseline, the
production histograms against its bins, and the hourly check whose false alarms are controlled across features
and across looks. numpy and the standard library only, so the drift Lambda runs it from the shared layer.
"""
