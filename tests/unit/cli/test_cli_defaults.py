"""What every sub-command shares: the project from cdk.json, the version, and help written for users."""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from safedeploy.cli import build_parser, main
from safedeploy.cli.exit_codes import ExitCode
from testbed.aws import FAKE_CREDENTIALS


def test_the_project_defaults_to_cdk_json_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SAFEDEPLOY_PROJECT", raising=False)
    (tmp_path / "cdk.json").write_text(json.dumps({"context": {"project": "shop-ml"}}))
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["status", "--env", "dev"])
    assert args.project == "shop-ml"


def test_the_environment_variable_wins_over_cdk_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEDEPLOY_PROJECT", "other")
    (tmp_path / "cdk.json").write_text(json.dumps({"context": {"project": "shop-ml"}}))
    monkeypatch.chdir(tmp_path)
    assert build_parser().parse_args(["status", "--env", "dev"]).project == "other"


def test_outside_a_checkout_the_project_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SAFEDEPLOY_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["status", "--env", "dev"]) == 2
    assert capsys.readouterr().err.strip() == (
        "safedeploy status: error: --project is required (or set SAFEDEPLOY_PROJECT or run from the project's "
        "directory (cdk.json))"
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert re.fullmatch(r"safedeploy \d+\.\d+\.\d+\n", capsys.readouterr().out)


def test_help_is_written_for_users(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["reject", "--help"], ["approve", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
    text = capsys.readouterr().out
    assert "Rejecte " not in text and "sub-command module" not in text
    assert "Reject the manual approval the pipeline is waiting for" in text


class _Html(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_POST(self) -> None:
        body = b"<html>\n<head><title>Sign in</title></head>\n<body>\n<h1>Proxy login</h1>\n</body>\n</html>\n"
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(params=[200, 502])
def html_endpoint(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    handler = type("Handler", (_Html,), {"status": request.param})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    for name, value in {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": url, "AWS_MAX_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(name, value)
    yield url
    server.shutdown()


@pytest.mark.parametrize("command", ["status", "teardown", "deploy"])
def test_an_html_answer_is_one_line(html_endpoint: str, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    extra = (
        ["--package-arn", "arn:aws:sagemaker:ap-northeast-2:123456789012:model-package/g/1"]
        if command == "deploy"
        else []
    )
    arguments = [command, "--project", "demo", "--env", "dev", "--region", "ap-northeast-2", *extra]
    assert main(arguments) == ExitCode.AWS_ERROR
    (line,) = capsys.readouterr().err.splitlines()
    assert f"safedeploy {command}: AWS error: unreadable AWS response: " in line
    assert "AWS_ENDPOINT_URL" in line and "<html>" not in line
