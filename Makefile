# Two commands on a fresh machine: `make synth` (set up + synthesize every environment) and `make test`.
# Set-up is idempotent: the venv and node_modules are rebuilt only when their lock/requirement files change.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# checkov pins boto3/botocore and packaging below the project's pins, so it lives in a venv of its own.
CHECKOV_VENV := .venv-checkov
CDK := npx --no-install cdk
export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: setup synth test test-fast lint bench rehearse acceptance acceptance-offline destroy clean

setup: $(VENV)/.installed $(CHECKOV_VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt ml/requirements.txt ml/requirements-pipeline.txt serving/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

synth: setup
	@# A fresh cloud assembly: an environment removed from cdk.json must not linger in cdk.out/.
	rm -rf cdk.out
	@# Known notices are explained once instead of repeated (infra/synth_output.py, run as a file: it needs no CDK);
	@# cdk's exit status is kept.
	set -o pipefail; $(CDK) synth --quiet --no-notices 2>&1 | $(BIN)/python infra/synth_output.py
	@# cfn-lint exit status is a bit mask: 2 = errors (fail), 4 = warnings (shown), 8 = informational.
	@# .cfnlintrc.yaml ignores W3005 (a redundant DependsOn CDK writes), with the reason.
	rc=0; $(BIN)/cfn-lint $$(find cdk.out -name '*.template.json') || rc=$$?; test $$(( rc & 2 )) -eq 0
	@# checkov fails on any finding that checkov-baseline.txt does not accept (each accepted one with its reason);
	@# --skip-download: offline, the checks ship with the package. It reads copies named after their stacks
	@# (infra/checkov_inputs.py: CDK's template names can look like a secret key to it).
	$(CHECKOV_VENV)/bin/checkov --framework cloudformation --skip-download --quiet --compact \
		$$($(BIN)/python infra/checkov_inputs.py cdk.out)
	@echo "Templates written to cdk.out/ for: $$(ls -d cdk.out/assembly-* | sed 's|cdk.out/assembly-||' | tr '\n' ' ')"

# worksteal: the few minute-long rehearsal tests would otherwise queue behind one worker (8 min instead of 4).
test: setup
	$(BIN)/python -m pytest -n 2 --dist worksteal

test-fast: setup
	$(BIN)/python -m pytest -n 2 --dist worksteal -m "not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup  ## every benchmark prints its figures; none of them is a test
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

rehearse: setup  ## dev and prod on moto: a good candidate promoted to prod, a bad one rolled back, every attack refused (docs/rehearsal.md)
	$(BIN)/python -m rehearsal --output rehearsal-output

acceptance: setup  ## make acceptance ENV=<scratch> [FROM=dev]: a minimal copy in the account, a release, a forced rollback, every undocumented behaviour asserted, then torn down (docs/acceptance.md)
	@test -n "$(ENV)" || { echo "usage: make acceptance ENV=<scratch environment, not in cdk.json> [FROM=dev]" >&2; exit 2; }
	$(BIN)/python -m acceptance --env $(ENV) --from $(or $(FROM),dev)

acceptance-offline: setup  ## the suite's synth snapshot and its assertions on moto, with no credentials (also part of `make test`)
	$(BIN)/python -m pytest -q tests/unit/acceptance tests/unit/docs/test_behaviour_register.py tests/unit/operations/test_doctor_acceptance.py

destroy: setup  ## make destroy ENV=dev: endpoint, configs, models, autoscaling, then the stacks (docs/playbook.md)
	@test -n "$(ENV)" || { echo "usage: make destroy ENV=<environment> [CONFIRM=--confirm-production]" >&2; exit 2; }
	$(BIN)/safedeploy teardown --env $(ENV) $(CONFIRM)

clean:
	rm -rf cdk.out .pytest_cache rehearsal-output
