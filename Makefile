# Two commands do all set-up: `make run` and `make test`. Each creates .venv
# and installs requirements.txt when it is missing or the requirements changed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ENV ?= dev
export PYTHONPATH := $(CURDIR)/runtime:$(CURDIR)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export AWS_DEFAULT_REGION ?= us-east-1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: operator-key run portal portal-types portal-types-check chromium lint lint-types-runtime test test-runtime test-fuzz test-chaos test-e2e test-portal test-infra test-lambda bench-quick pgbouncer bench synth deploy clean

# The runtime tests report line and branch coverage of runtime/chalicelib
# ([tool.coverage] in pyproject.toml; the figure is in the README, "Testing").
COVERAGE := --cov=runtime/chalicelib --cov-branch --cov-report=term
FUZZ_WORKERS := -n 2 --dist worksteal
# The portal's browser journeys: a stack per test module already, so two
# pytest-xdist workers take whole modules (loadfile) and each module keeps its
# own stack and test order; most of a journey is waiting (a stack starting,
# a page rendering, an e-mail arriving), so two at once fill the cores better.
# (tests/e2e, three journeys in two modules, gained nothing: it stays serial.)
PORTAL_WORKERS := -n 2 --dist loadfile

# pip is upgraded but kept below 26.3: chalice 1.34.0 requires pip<26.3 (it
# packages the functions with pip), so pip 26.3 would leave the venv with a broken
# requirement. Lift the bound when chalice does.
$(STAMP): requirements.txt runtime/requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade 'pip<26.3'
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

run: $(STAMP) portal
	$(PY) -m devstack

# The customer portal (portal/: React + Vite). `npm ci` only when package-lock.json
# is newer than the last install (a stamp in node_modules), `npm run build` only
# when a source is newer than portal/dist/index.html (which every build rewrites).
PORTAL_DEPS := portal/node_modules/.ci-stamp
PORTAL_SRC := $(shell find portal/src portal/public -type f 2>/dev/null) \
	portal/index.html portal/vite.config.ts portal/tsconfig.json portal/package.json

$(PORTAL_DEPS): portal/package-lock.json
	cd portal && npm ci --no-audit --no-fund
	@touch $@

portal/dist/index.html: $(PORTAL_DEPS) $(PORTAL_SRC)
	cd portal && npm run build

portal: portal/dist/index.html

# The portal's API types come from the document GET /openapi.json serves
# (devstack/openapi_dump.py: no database needed). portal-types regenerates and
# writes portal/src/api/schema.d.ts (commit it); portal-types-check fails when the
# committed file differs from what the app serves now.
portal-types: $(STAMP) $(PORTAL_DEPS)
	$(PY) -m devstack.openapi_dump portal/openapi.json
	cd portal && npm run --silent gen:api

portal-types-check: $(STAMP) $(PORTAL_DEPS)
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PY) -m devstack.openapi_dump "$$tmp/openapi.json" 2>/dev/null && \
	(cd portal && npx --no-install openapi-typescript "$$tmp/openapi.json" -o "$$tmp/schema.d.ts" >/dev/null 2>&1) || \
	  { echo "*** portal-types-check: could not generate the types from /openapi.json ***"; exit 1; }; \
	if ! diff -u portal/src/api/schema.d.ts "$$tmp/schema.d.ts" >"$$tmp/drift.diff"; then \
	  head -n 60 "$$tmp/drift.diff"; \
	  echo "*** portal/src/api/schema.d.ts has drifted from the app's /openapi.json: run 'make portal-types' and commit the result ***"; \
	  exit 1; \
	fi; \
	echo "portal types match /openapi.json"

# Code checks ([tool.ruff] and [tool.mypy] in pyproject.toml): ruff's rules, its
# formatting, mypy checked but lenient on the infrastructure, the local stack and
# the benchmark (its first run reads aws_cdk, ~30 s; later runs use .mypy_cache),
# then mypy strict on runtime/chalicelib (lint-types-runtime).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(MAKE) --no-print-directory lint-types-runtime

# mypy, strict, on runtime/chalicelib: its own run, because the lenient one above
# reads the runtime's types without reporting on it ([tool.mypy] in pyproject.toml).
lint-types-runtime: $(STAMP)
	$(VENV)/bin/mypy runtime/chalicelib

# `make lint` first: a finding stops the run before any test starts. lint (with
# the venv) and portal (npm ci, tsc, vite) need nothing of each other: one make
# builds both at once, each target's output kept together (--output-sync).
# Runtime tests and infrastructure tests run in separate pytest processes:
# chalice.cdk imports runtime/app.py, and one Chalice app per process.
test: pgbouncer chromium
	$(MAKE) --no-print-directory -j2 --output-sync=target lint portal
	$(PY) -m pytest tests/unit tests/integration tests/api $(COVERAGE)
	$(PY) -m pytest tests/fuzz $(FUZZ_WORKERS)
	$(PY) -m pytest tests/chaos
	$(PY) -m pytest tests/e2e
	$(MAKE) --no-print-directory test-portal
	$(PY) -m pytest tests/infra
	$(PY) -m pytest tests/lambda_harness
	$(MAKE) --no-print-directory bench-quick

test-runtime: $(STAMP) pgbouncer
	$(PY) -m pytest tests/unit tests/integration tests/api $(COVERAGE)
	$(PY) -m pytest tests/fuzz $(FUZZ_WORKERS)

# The fuzzing gate (schemathesis against /openapi.json, ~2 minutes) in its own
# process and local stack, so the data it creates never meets other tests'.
# Two pytest-xdist workers, each with a stack of its own: a run is one schemathesis
# process waiting on one app thread (about one core), so two runs fill two cores;
# every run keeps its operations, examples and single schemathesis worker. The
# order that keeps both workers busy to the end: tests/fuzz/conftest.py.
test-fuzz: $(STAMP)
	$(PY) -m pytest tests/fuzz $(FUZZ_WORKERS)

# The chaos run (~1 minute): mixed traffic from several tenants over HTTP while
# the database connections are killed, then DynamoDB, then SES are down; zero
# 500s, no cross-tenant data, exact usage reconciliation (docs/RELIABILITY.md).
# Its own process and local stack, like the fuzzing gate.
test-chaos: $(STAMP)
	$(PY) -m pytest tests/chaos

# The end-to-end journeys (~10 s): `python -m devstack` as `make run` starts it, in
# its own process, state directory and ports, driven over HTTP from outside
# (tests/e2e: invite, the e-mail read from the local SES, accept, login, MFA...).
test-e2e: $(STAMP)
	$(PY) -m pytest tests/e2e

# The portal's browser journeys (tests/portal): the built portal, its API types
# checked against /openapi.json, then Playwright driving Debian's Chromium
# against `python -m devstack` (one stack per test module, as tests/e2e); axe-core
# on every page; screenshots in .local/screenshots/.
test-portal: $(STAMP) chromium portal
	$(MAKE) --no-print-directory portal-types-check
	$(PY) -m pytest tests/portal $(PORTAL_WORKERS)

test-infra: $(STAMP)
	$(PY) -m pytest tests/infra

# The packaged Lambda artifact (what cdk deploy uploads) in a Python of the
# Lambda runtime's version, behind an API-Gateway-shaped adapter: the contract's
# flows, the jobs, the migrations custom resource and one schemathesis phase
# (devstack/lambda_harness.py; PgBouncer with TLS stands in for RDS Proxy).
test-lambda: $(STAMP) pgbouncer
	$(PY) -m pytest tests/lambda_harness

# The RLS and pool tests also run through a transaction-mode PgBouncer, as
# RDS Proxy would multiplex in the cloud. Install it where we can (root and
# apt), and say loudly when we cannot: those tests are then skipped.
pgbouncer:
	@command -v pgbouncer >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get install -y -qq pgbouncer >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq pgbouncer >/dev/null 2>&1)) || true; \
	  fi; \
	  command -v pgbouncer >/dev/null 2>&1 || command -v /usr/sbin/pgbouncer >/dev/null 2>&1 || \
	    echo "*** WARNING: pgbouncer could not be installed; the transaction-pooler RLS tests will be SKIPPED ***"; }

# Debian's Chromium, which Playwright drives in the portal's tests and bench
# (Playwright's own browser download needs internet the machines do not have:
# never `playwright install`). Installed as root with apt; otherwise a clear error.
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium (apt-get)"; \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1)) || true; \
	  fi; \
	  test -x /usr/bin/chromium || { \
	    echo "*** /usr/bin/chromium is missing and could not be installed: as root, run" \
	      "'apt-get update && apt-get install -y chromium' (the portal's browser tests need it) ***" >&2; \
	    exit 1; }; }

# `make bench` measures the figures the issues name (see docs/PERFORMANCE.md);
# `make bench QUICK=1` runs the same code on small sizes. `make test` runs the
# quick mode once so the harness cannot rot (it asserts no timings).
# `make bench SCALE=10`: ten times the population (100,000 customers, 10,000,000
# events in the billed month; about 20 minutes instead of 6-8).
bench: $(STAMP) chromium portal
	$(PY) -m bench $(if $(QUICK),--quick,) $(if $(SCALE),--scale $(SCALE),)

bench-quick: $(STAMP) chromium portal
	$(PY) -m bench --quick

# The CDK app (infra.py, what cdk.json's "app" runs) for one environment
# (ENV=dev|staging|prod). Offline: no AWS credentials, no context lookups, no
# Node; cdk-nag (AwsSolutions) fails the synth on any unacknowledged finding,
# then cfn-lint checks every template.
# NETWORK=file.json gives the environment's vpc block (real network ids kept
# out of cdk.json; docs/DEPLOYMENT.md, "Network ids") as context saas:network.
synth: $(STAMP) portal
	rm -rf cdk.out
	CDK_CONTEXT_JSON="$$($(PY) -c 'import json,sys; c={"env": sys.argv[1]}; c.update({"saas:network": json.load(open(sys.argv[2]))} if sys.argv[2] else {}); print(json.dumps(c))' '$(ENV)' '$(NETWORK)')" \
	  CDK_OUTDIR=cdk.out $(PY) infra.py
	$(VENV)/bin/cfn-lint --non-zero-exit-code error cdk.out/*.template.json
	@echo "synthesized $(ENV): $$(ls cdk.out/*.template.json | tr '\n' ' ')"

# Deploy both stacks of ENV with the cdk CLI from npm (needs AWS credentials
# and a bootstrapped account: see docs/DEPLOYMENT.md). Both synth and deploy
# build the portal first: the app uploads portal/dist to the portal's bucket.
deploy: $(STAMP) portal
	npx --yes aws-cdk@2 deploy --all -c env=$(ENV) $(if $(NETWORK),-c saas:network="$$(cat $(NETWORK))",) --require-approval broadening

clean:
	rm -rf .local cdk.out chalice.out .coverage

# The first operator key for a database you point at (DATABASE_URL = the app
# login; in the cloud invoke the create_operator_key Lambda instead, see README).
operator-key: $(STAMP)
	@test -n "$(EMAIL)" || { echo "usage: make operator-key EMAIL=ops@example.com"; exit 2; }
	$(PY) -m chalicelib.auth.bootstrap --email "$(EMAIL)"
