"""What `make synth` shows of `cdk synth`: the output minus notices this project examined, each explained once.

- jsii's Node.js support banner arrives as Python byte strings (`b'!!  Node 20 is end-of-life ...\\n'`): the jsii
  runtime prints lines it cannot parse with `print(bytes)`. One line replaces it, naming the Node.js versions the
  CDK app's runtime supports.
- "N feature flags are not configured": the CLI counts the newer CDK feature flags cdk.json does not set. Each flag
  changes synthesized templates; they stay at their defaults until adopted one at a time (`npx cdk flags
  --unstable=flags`), with the stack tests showing what changes.
- "Supply a stack id () to display its template.": `--quiet` with many stacks; nothing to do.

Usage: `cdk synth ... 2>&1 | python -m infra.synth_output` (the exit status stays cdk's with `set -o pipefail`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator

BANNER_LINE = re.compile(r"^b'!!.*'$")
RUNNING_ON = re.compile(r"running on node (v\d+(?:\.\d+)*)")
SUPPORTED = re.compile(r"- \^(\d+)\.0\.0")
FEATURE_FLAGS = re.compile(r"^(\d+) feature flags are not configured")
DROPPED = ("Supply a stack id () to display its template.",)


def filtered(lines: Iterable[str]) -> Iterator[str]:
    banner: list[str] = []
    for line in (raw.rstrip("\n") for raw in lines):
        if BANNER_LINE.match(line):
            banner.append(line)
            continue
        if banner:
            yield node_note(banner)
            banner = []
        if line in DROPPED:
            continue
        flags = FEATURE_FLAGS.match(line)
        if flags:
            yield (
                f"note: {flags.group(1)} newer CDK feature flags keep their defaults on purpose (each changes "
                "templates; adopt one at a time with `npx cdk flags --unstable=flags`)"
            )
            continue
        yield line
    if banner:
        yield node_note(banner)


def node_note(banner: list[str]) -> str:
    text = " ".join(banner)
    running = RUNNING_ON.search(text)
    supported = sorted(set(SUPPORTED.findall(text)), key=int)
    versions = " or ".join(supported) if supported else "a supported release"
    return (
        f"note: Node.js {running.group(1) if running else '(this one)'} is end-of-life for the CDK's jsii runtime; "
        f"install Node.js {versions} (docs/getting-started.md)"
    )


def main() -> int:
    for line in filtered(sys.stdin):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
