"""jsii's Node.js banner, explained once instead of printed as Python byte strings.

Every process that imports `aws_cdk` starts jsii's Node.js runtime, which prints a 12-line banner when that Node.js
is past end-of-life; jsii's Python side forwards it as `b'!!  ...'` lines (the rehearsal, the benches, the tests,
`cdk synth`). Before the first `aws_cdk` import (`infra/__init__.py`) the banner is silenced for the Node.js major
running here, with jsii's own switch, and one line says what to install instead. A supported Node.js prints nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import MutableMapping

# The Node.js releases the CDK app's jsii runtime supports (its release table; README and docs/getting-started.md).
SUPPORTED_NODE_MAJORS = (22, 24)
SILENCE_END_OF_LIFE = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"
_VERSION = re.compile(r"^v(\d+)\.")


def explain_end_of_life(environ: MutableMapping[str, str], node_version: str | None) -> str | None:
    """Silence jsii's banner for an unsupported `node_version` (`v20.20.2`) in `environ`; the note to print."""
    match = _VERSION.match(node_version or "")
    if SILENCE_END_OF_LIFE in environ or match is None or int(match.group(1)) in SUPPORTED_NODE_MAJORS:
        return None
    environ[SILENCE_END_OF_LIFE] = match.group(1)
    supported = " or ".join(str(major) for major in SUPPORTED_NODE_MAJORS)
    return (
        f"note: Node.js {node_version} is not supported by the CDK's jsii runtime (end-of-life); install Node.js "
        f"{supported} (docs/getting-started.md)"
    )


def quiet_banner() -> None:
    """Once per process tree: children inherit the switch, so only the first process prints the note."""
    node = shutil.which("node")
    if node is None or SILENCE_END_OF_LIFE in os.environ:
        return
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    note = explain_end_of_life(os.environ, version.strip())
    if note:
        print(note, file=sys.stderr)
