"""Training data from the Feature Group's offline store, through Athena.

The offline store keeps every write of a record; the query keeps each record's latest version and drops deleted
ones, which is what a model should learn from. The Glue table, the identifier and the event-time feature come from
DescribeFeatureGroup, so the query follows the Feature Group rather than a copy of its schema.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from safedeploy.errors import InputError

TERMINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
IDENTIFIER = re.compile(r"[A-Za-z0-9_-]+")


def feature_columns(sm: Any, feature_group_name: str) -> list[str]:
    """The columns a model trains on: every feature of the group but its record identifier and event time."""
    group = sm.describe_feature_group(FeatureGroupName=feature_group_name)
    bookkeeping = {group["RecordIdentifierFeatureName"], group["EventTimeFeatureName"]}
    return [d["FeatureName"] for d in group["FeatureDefinitions"] if d["FeatureName"] not in bookkeeping]


def latest_records_query(database: str, table: str, record_id: str, event_time: str, columns: Sequence[str]) -> str:
    for name in (database, table, record_id, event_time, *columns):
        if not IDENTIFIER.fullmatch(name):
            raise InputError(f"{name!r} is not a plain Athena identifier")
    selected = ", ".join(f'"{column}"' for column in columns)
    return (
        f"SELECT {selected} FROM ("
        f'SELECT *, row_number() OVER (PARTITION BY "{record_id}" '
        f'ORDER BY "{event_time}" DESC, api_invocation_time DESC, write_time DESC) AS row_rank '
        f'FROM "{database}"."{table}") '
        "WHERE row_rank = 1 AND NOT is_deleted"
    )


def export_offline_store(
    sm: Any,
    athena: Any,
    *,
    feature_group_name: str,
    columns: Sequence[str],
    results_uri: str,
    kms_key_arn: str,
    destination: Path,
    progress: Callable[[str], None] = print,
    poll_seconds: float = 2.0,
    timeout_seconds: float = 1800.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Write the latest version of every record in `columns` to `destination` (CSV with a header)."""
    group = sm.describe_feature_group(FeatureGroupName=feature_group_name)
    catalog = group.get("OfflineStoreConfig", {}).get("DataCatalogConfig")
    if not catalog:
        raise InputError(f"Feature Group {feature_group_name} has no offline store to train from")
    query = latest_records_query(
        catalog["Database"],
        catalog["TableName"],
        group["RecordIdentifierFeatureName"],
        group["EventTimeFeatureName"],
        columns,
    )
    execution_id = athena.start_query_execution(
        QueryString=query,
        QueryExecutionContext={"Database": catalog["Database"], "Catalog": catalog.get("Catalog", "AwsDataCatalog")},
        ResultConfiguration={
            "OutputLocation": results_uri,
            "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": kms_key_arn},
        },
    )["QueryExecutionId"]
    progress(f"Athena query {execution_id} on {catalog['Database']}.{catalog['TableName']} started")
    _wait(athena, execution_id, progress, poll_seconds, timeout_seconds, sleep)
    rows = _result_rows(athena, execution_id)
    if not rows:
        raise InputError(f"Feature Group {feature_group_name} has no records in its offline store yet")
    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    progress(f"{len(rows)} records from Feature Group {feature_group_name}")
    return destination


def _wait(
    athena: Any,
    execution_id: str,
    progress: Callable[[str], None],
    poll_seconds: float,
    timeout_seconds: float,
    sleep: Callable[[float], None],
) -> None:
    waited = 0.0
    while True:
        status = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]
        state = status["State"]
        if state == "SUCCEEDED":
            return
        if state in TERMINAL_STATES:
            raise RuntimeError(f"Athena query {execution_id} {state}: {status.get('StateChangeReason', 'no reason')}")
        if waited >= timeout_seconds:
            raise TimeoutError(f"Athena query {execution_id} still {state} after {timeout_seconds:.0f} s")
        progress(f"Athena query {execution_id}: {state} ({waited:.0f} s)")
        sleep(poll_seconds)
        waited += poll_seconds


def _result_rows(athena: Any, execution_id: str) -> list[list[str]]:
    """Every data row (Athena repeats the header as the first row of the first page)."""
    rows: list[list[str]] = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id):
        rows.extend([cell.get("VarCharValue", "") for cell in row["Data"]] for row in page["ResultSet"]["Rows"])
    return rows[1:]
