"""The SSM parameter `/<project>/<env>/pipeline-source`: where the environment's pipeline reads its code.

The storage stack publishes it from `pipeline.source` in cdk.json; `safedeploy doctor` reads it to check, in the
account, that the repository is reachable (CodeCommit) or that the connection is AVAILABLE (CodeConnections).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

from safedeploy.errors import InputError

SourceKind = Literal["codecommit", "codeconnections"]


@dataclass(frozen=True)
class SourceRecord:
    kind: SourceKind
    repository: str
    branch: str
    provider: str = ""
    connection_arn_parameter: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, path: str = "pipeline-source") -> SourceRecord:
        try:
            data = json.loads(text)
            return cls(**data)
        except (json.JSONDecodeError, TypeError) as error:
            raise InputError(f"{path}: not a pipeline source record ({error})") from None
