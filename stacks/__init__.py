"""One stack per concern, composed per environment by `stacks.stage`."""

import infra  # noqa: F401  (first: it quiets jsii's Node.js banner before aws_cdk loads)
