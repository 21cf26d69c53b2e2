"""The gateway's output is read line by line while it writes: a line not yet ended is left for the next read (a
30-run loop once read half an EMF document and failed on its JSON)."""

from __future__ import annotations

import json
from pathlib import Path

from testbed.gateway_harness import Gateway

EMF = {"_aws": {"CloudWatchMetrics": [{"Metrics": [{"Name": "Predictions"}]}]}, "VariantName": "v1", "Predictions": 1}


def test_a_line_still_being_written_is_not_read(tmp_path: Path) -> None:
    log = tmp_path / "stdout.log"
    gateway = Gateway("http://127.0.0.1:1", log, None)  # type: ignore[arg-type]  # reading needs no process
    whole = json.dumps(EMF)
    log.write_text(f"{whole}\n{whole[:30]}")
    assert gateway.lines() == [whole] and gateway.totals()["v1"]["Predictions"] == 1
    log.write_text(f"{whole}\n{whole}\n")
    assert gateway.totals()["v1"]["Predictions"] == 2
