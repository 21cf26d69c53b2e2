"""What `make synth` shows of `cdk synth`: the output minus notices this project examined, each explained once.

- "N feature flags are not configured": the CLI counts the newer CDK feature flags cdk.json does not set. Each flag
  changes synthesized templates; they stay at their defaults until adopted one at a time (`npx cdk flags
  --unstable=flags`), with the stack tests showing what changes.
- "Supply a stack id () to display its template.": `--quiet` with many stacks; nothing to do.

Usage: `cdk synth ... 2>&1 | python infra/synth_output.py` (the exit status stays cdk's with `set -o pipefail`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator

FEATURE_FLAGS = re.compile(r"^(\d+) feature flags are not configured")
DROPPED = ("Supply a stack id () to display its template.",)


def filtered(lines: Iterable[str]) -> Iterator[str]:
    for line in (raw.rstrip("\n") for raw in lines):
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


def main() -> int:
    for line in filtered(sys.stdin):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
