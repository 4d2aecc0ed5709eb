# The project's interface. `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3.11
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.PHONY: help run test unit e2e e2e-seaweedfs reliability lint format typecheck validate build invoke bench bench-smoke bench-scale admin clean chromium

help:
	@echo "make run        start the whole service locally (embedded AWS backend, http://127.0.0.1:$${PORT:-3000})"
	@echo "                BACKEND=seaweedfs make run: S3 on SeaweedFS, the rest on moto"
	@echo "make test       run every test (unit, e2e, then the reliability suite)"
	@echo "make e2e-seaweedfs  the e2e contract tests with SeaweedFS as the stack's S3"
	@echo "make reliability  the reliability suite alone: faults between functions and AWS, hostile input, cross-org"
	@echo "make lint       ruff and mypy"
	@echo "make validate   sam validate and sam validate --lint"
	@echo "make build      sam build (no container)"
	@echo "make invoke FN=<Function> EVENT=events/<file>.json   invoke one function locally"
	@echo "make bench      benchmarks against other tools on the embedded backend"
	@echo "make bench-scale  the scale model: every contender on a simulated S3 up to a billion objects"

$(VENV)/.installed: requirements-dev.txt layers/eraser/requirements.txt layers/eraser/pyproject.toml client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e layers/eraser
	$(PY) -m pip install --quiet --no-deps -e client
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	touch $@

venv: $(VENV)/.installed $(SAM_VENV)/.installed chromium

# The /docs page test drives Debian's chromium through Playwright. Installed where this user can (root with apt-get);
# elsewhere that one test skips and says so. CI installs it (.ci/run).
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium is not installed (apt-get install -y chromium): the /docs browser test will skip"

run: $(VENV)/.installed $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/python -m local.run --port $${PORT:-3000} --backend $${BACKEND:-moto}

# Every test: unit and e2e, then the reliability suite in a session of its own (its stack has a fault proxy).
test: $(VENV)/.installed $(SAM_VENV)/.installed
	$(PY) -m pytest -q $(PYTEST_ARGS)
	$(PY) -m pytest -q tests/reliability $(PYTEST_ARGS)

unit: $(VENV)/.installed
	$(PY) -m pytest -q tests/domain tests/unit tests/tools $(PYTEST_ARGS)

e2e: $(VENV)/.installed $(SAM_VENV)/.installed
	$(PY) -m pytest -q tests/e2e $(PYTEST_ARGS)

# The same e2e contract tests with SeaweedFS, a real S3 implementation, in place of moto's S3.
e2e-seaweedfs: $(VENV)/.installed $(SAM_VENV)/.installed
	ERASER_E2E_BACKEND=seaweedfs $(PY) -m pytest -q tests/e2e $(PYTEST_ARGS)

reliability: $(VENV)/.installed $(SAM_VENV)/.installed
	$(PY) -m pytest -q tests/reliability $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy layers/eraser/eraser client/eraser_cli

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .

validate: $(SAM_VENV)/.installed
	$(SAM) validate --region $(AWS_DEFAULT_REGION)
	$(SAM) validate --lint

build: $(SAM_VENV)/.installed
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" $(SAM) build --parallel --cached

invoke: $(VENV)/.installed $(SAM_VENV)/.installed
	@test -n "$(FN)" -a -n "$(EVENT)" || (echo "usage: make invoke FN=<FunctionLogicalId> EVENT=events/<file>.json" && exit 2)
	$(SAM_VENV)/bin/python -m local.invoke $(FN) $(EVENT)

bench: $(VENV)/.installed $(SAM_VENV)/.installed
	$(PY) -m bench $(BENCH_ARGS)

bench-smoke: $(VENV)/.installed $(SAM_VENV)/.installed
	$(PY) -m bench --smoke

admin: $(VENV)/.installed
	@$(PY) -m eraser.admin $(ARGS)

clean:
	rm -rf .aws-sam .eraser .pytest_cache .ruff_cache .mypy_cache .venv-bench

# The scale model (bench/scale): a discrete-event simulation of S3, SQS + Lambda and DynamoDB at up to a billion
# objects, every contender on it; prints a table and writes bench/results/scale-<time>.json. No AWS, no backend.
bench-scale: $(VENV)/.installed
	$(PY) -m bench.scale $(BENCH_ARGS)
