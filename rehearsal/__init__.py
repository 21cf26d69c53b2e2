"""A full release played on this machine with no AWS account: moto stands in for AWS, the rehearsal for the people
and for the parts of AWS that act on their own (CodePipeline moving between actions, CloudWatch evaluating alarms,
SageMaker shifting traffic). Everything else is the product's own code: the buildspecs' commands, the Lambda
handlers, the gateway, the `safedeploy` CLI. Run it with `make rehearse`; see docs/rehearsal.md.
"""
