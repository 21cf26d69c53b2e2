"""The second example model: a delivery-time regressor with five features, answering JSON.

It ships beside the classifier in `ml/` to show a team's own model of another shape: select it by pointing cdk.json's
`model` section at it (docs/model.md, "The second example"); nothing outside this package and cdk.json changes.
"""
