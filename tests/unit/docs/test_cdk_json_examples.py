"""Every cdk.json example in the docs is one synth accepts, or, where a doc shows a mistake, one synth refuses with
the line the doc names: each is put into a complete configuration and validated with `load_config`, synth's
validator.

How a block says what it is, in README.md and docs/*.md: every fenced block tagged `json` or `jsonc`, and every
untagged block that opens with `{` or `"`, has an HTML comment (invisible once rendered) on the line right above its
fence:

- `<!-- cdk.json: PATH -->`: cdk.json text that sits inside the object at PATH, dotted keys from the top of the file
  (`context`, `context.environments.dev`; `<!-- cdk.json -->` alone is the file itself). The block holds members of
  that object as cdk.json writes them (`"key": value, ...`; a block that is one `{...}` object is read as its
  members). Each member replaces the value at its key; but an object, at any depth, that holds the member
  `"...": "..."` is abridged: it keeps the keys the object at its place already has and changes only those it names.
- `<!-- cdk.json: PATH; fails: LINE -->`: the same, for an example of a mistake: validation must refuse it with a
  ConfigError whose line starts with LINE.
- `<!-- not cdk.json: WHAT -->`: anything else (an API body, release.json, an `analyze` document), saying what.

A `jsonc` block may hold `//` comments. The configuration a fragment goes into is BASE, built here and not read from
the shipped cdk.json: an example must stand on the defaults and the keys every cdk.json states (a project, the model,
a dev that promotes to a prod that locks its artifacts). An unclassified block, a marker with no block under it, a
block that is not JSON and a key given twice (two alternatives are two blocks) fail.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from safedeploy.environment_config import load_config
from safedeploy.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
MARKER = re.compile(r"^ *<!--\s*(?P<kind>not cdk\.json|cdk\.json)(?::\s*(?P<text>.*?))?\s*-->\s*$")
PATH = re.compile(r"^([A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)?$")
JSON_TAGS = ("json", "jsonc")
STRING_OR_COMMENT = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*')
ELLIPSIS = "..."
BASE: dict[str, Any] = {
    "context": {
        "project": "my-mlops",
        "model": {
            "train": "ml.build:train_and_evaluate",
            "sample_data": "ml.data:write_sample",
            "serving": {"framework": "sklearn", "framework_version": "1.9-0"},
            "contract": {"features": ["age", "tenure"], "health_check": [30, 2]},
            "metrics": {"auc": 0.75},
        },
        "environments": {
            "dev": {"removal_policy": "destroy", "termination_protection": False, "promotes_to": "prod"},
            "prod": {"artifact_lock_days": 365},
        },
    }
}


@dataclass(frozen=True)
class Block:
    where: str  # document:line of the opening fence
    tag: str
    text: str
    marker: str | None  # the comment right above the fence, if it is a marker

    @property
    def needs_marker(self) -> bool:
        return self.tag in JSON_TAGS or (not self.tag and self.text.lstrip()[:1] in ("{", '"'))

    @property
    def kind(self) -> str | None:
        return None if self.marker is None else marker(self.marker)["kind"]


@dataclass(frozen=True)
class Fragment:
    path: tuple[str, ...]
    fails: str | None
    members: dict[str, Any]

    def placed(self) -> dict[str, Any]:
        """BASE with this fragment in place: the context synth would read."""
        document = copy.deepcopy(BASE)
        target = document
        for key in self.path:
            target = target.setdefault(key, {})
            assert isinstance(target, dict), f"{'.'.join(self.path)}: {key} is not an object in the base"
        merge(target, self.members)
        return document["context"]


def marker(line: str) -> re.Match[str]:
    found = MARKER.match(line)
    assert found is not None, line
    return found


def read_blocks(text: str, name: str) -> tuple[list[Block], list[str]]:
    """The fenced blocks of a Markdown text, and the markers that sit above no fence (as `name:line`)."""
    lines = text.splitlines()
    found, orphans, index = [], [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            if MARKER.match(lines[index]) and not (index + 1 < len(lines) and FENCE.match(lines[index + 1])):
                orphans.append(f"{name}:{index + 1}")
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        body, end = [], index + 1
        while end < len(lines) and not (lines[end].strip().startswith(fence) and set(lines[end].strip()) == {fence[0]}):
            line = lines[end]
            body.append(line[indent:] if not line[:indent].strip() else line.lstrip())
            end += 1
        above = lines[index - 1] if index > 0 else ""
        found.append(
            Block(
                where=f"{name}:{index + 1}",
                tag=(opening["info"].split() or [""])[0].lower(),
                text="\n".join(body),
                marker=above if MARKER.match(above) else None,
            )
        )
        index = end + 1
    return found, orphans


def fragment(block: Block) -> Fragment:
    spec = marker(block.marker or "")["text"] or ""
    where, _, fails = spec.partition("; fails:")
    assert PATH.match(where.strip()), f"{block.where}: {where!r} is not a dotted path of cdk.json keys"
    text = block.text
    if block.tag == "jsonc":
        text = STRING_OR_COMMENT.sub(lambda found: found[0] if found[0].startswith('"') else "", text)
    body = text.strip()
    members = json.loads(body if body.startswith("{") else f"{{{body}}}", object_pairs_hook=unique)
    path = tuple(where.strip().split(".")) if where.strip() else ()
    return Fragment(path, fails.strip() or None, members)


def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise ValueError(f"{', '.join(twice)} given twice: alternatives belong in blocks of their own")
    return dict(pairs)


def merge(target: dict[str, Any], members: dict[str, Any]) -> None:
    for key, value in members.items():
        target[key] = resolved(value, target.get(key))


def resolved(value: Any, base: Any) -> Any:
    """`value` in place of `base`, where any object holding `"...": "..."` keeps the keys of the object at its place
    in `base` (at any depth, also inside an object that replaces its own)."""
    if not isinstance(value, dict):
        return value
    base = base if isinstance(base, dict) else {}
    if value.get(ELLIPSIS) == ELLIPSIS:
        named = {key: item for key, item in value.items() if key != ELLIPSIS}
        return base | {key: resolved(item, base.get(key)) for key, item in named.items()}
    return {key: resolved(item, base.get(key)) for key, item in value.items()}


def docs_blocks() -> tuple[list[Block], list[str]]:
    blocks: list[Block] = []
    orphans: list[str] = []
    for path in DOCS:
        found, lost = read_blocks(path.read_text(), str(path.relative_to(ROOT)))
        blocks += found
        orphans += lost
    return blocks, orphans


BLOCKS, ORPHANS = docs_blocks()
EXAMPLES = [block for block in BLOCKS if block.kind == "cdk.json"]


def test_every_json_block_says_what_it_is() -> None:
    assert [block.where for block in BLOCKS if block.needs_marker and block.marker is None] == []


def test_every_marker_sits_right_above_a_fence() -> None:
    assert ORPHANS == []


def test_what_is_not_cdk_json_says_what_it_is() -> None:
    named = {block.where: marker(block.marker or "")["text"] for block in BLOCKS if block.kind == "not cdk.json"}
    assert [where for where, what in named.items() if not what] == []


def test_the_base_is_a_valid_configuration_of_its_own() -> None:
    config = load_config(copy.deepcopy(BASE["context"]))
    assert list(config.environments) == ["dev", "prod"]


@pytest.mark.parametrize("block", EXAMPLES, ids=[block.where for block in EXAMPLES])
def test_the_example_is_what_synth_accepts_or_refuses_as_the_doc_says(block: Block) -> None:
    example = fragment(block)
    if example.fails is None:
        try:
            load_config(example.placed())
        except ConfigError as error:
            pytest.fail(f"{block.where}: cdk.json: {error}")
        return
    with pytest.raises(ConfigError) as refused:
        load_config(example.placed())
    assert str(refused.value).startswith(example.fails), f"{block.where}: cdk.json: {refused.value}"


def test_the_docs_examples_are_found() -> None:
    """The rule is applied to what is there: examples that pass, one that fails, one abridged, in each doc that
    shows cdk.json."""
    documents = {block.where.split(":")[0] for block in EXAMPLES}
    assert {"docs/environments.md", "docs/model.md", "docs/architecture.md"} <= documents
    examples = [fragment(block) for block in EXAMPLES]
    assert any(example.fails for example in examples) and any(not example.fails for example in examples)
    assert any(ELLIPSIS in json.dumps(example.members) for example in examples)


SAMPLE = """\
Text.

   <!-- cdk.json: context.environments -->
   ```jsonc
   "dev": {"promotes_to": "staging", "...": "..."},  // "//" inside a string stays: "https://x"
   "staging": {"promotes_to": "prod", "pipeline": {"branch": "release//1"}}
   ```

<!-- cdk.json: context.environments.dev; fails: environments.dev.region: -->
```json
{"region": "nowhere-1"}
```

```
{"unclassified": true}
```

<!-- not cdk.json: an API body -->

Text between the marker and the fence.
```json
"endpoint": {}, "endpoint": {"instance_count": 3}
```
"""


def test_the_rule_reads_fragments_as_the_docstring_says() -> None:
    blocks, orphans = read_blocks(SAMPLE, "sample.md")
    chain, mistake, unclassified, alternatives = blocks

    placed = fragment(chain).placed()
    assert placed["environments"]["dev"] == {**BASE["context"]["environments"]["dev"], "promotes_to": "staging"}
    assert placed["environments"]["staging"]["pipeline"] == {"branch": "release//1"}
    assert set(load_config(placed).environments) == {"dev", "staging", "prod"}

    refused = fragment(mistake)
    assert refused.path == ("context", "environments", "dev") and refused.fails == "environments.dev.region:"
    with pytest.raises(ConfigError, match=r"^environments\.dev\.region: "):
        load_config(refused.placed())

    assert (unclassified.needs_marker, unclassified.marker) == (True, None)
    assert orphans == ["sample.md:18"] and alternatives.marker is None
    with pytest.raises(ValueError, match="endpoint given twice"):
        fragment(Block("sample.md:23", "json", alternatives.text, "<!-- cdk.json: context.environments.dev -->"))
