# stainworth: make setup | submit | test | profile | compile | schedule | watch | images | bench | plan | gpu-check | reference | lint
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIPELINE ?= cls_capacity
PROFILE ?=
SET ?=
OVERLAY ?=
CRON ?=
INTERVAL ?= 60

PROFILE_ARG := $(if $(PROFILE),--profile $(PROFILE))
SET_ARGS := $(foreach item,$(SET),--set '$(item)')
OVERLAY_ARG := $(if $(OVERLAY),--overlay $(OVERLAY))

.PHONY: setup submit test profile compile schedule watch images bench plan gpu-check reference lint lint-imports clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --quiet --disable-pip-version-check -c requirements.lock -e ".[dev,bench]"
	touch $@

submit: setup
	$(PY) -m stainworth.cli submit $(PIPELINE) $(PROFILE_ARG) $(SET_ARGS) $(OVERLAY_ARG)

# The resolved profile (PROFILE, default mini) with SET applied, as YAML.
profile: setup
	$(PY) -m stainworth.cli profile $(or $(PROFILE),mini) $(SET_ARGS)

compile: setup
	$(PY) -m stainworth.cli compile $(PROFILE_ARG) $(SET_ARGS) $(OVERLAY_ARG)

schedule: setup
	$(PY) -m stainworth.cli schedule $(PIPELINE) --cron "$(CRON)" $(PROFILE_ARG) $(SET_ARGS) $(OVERLAY_ARG)

watch: setup
	$(PY) -m stainworth.cli watch --interval $(INTERVAL) $(PROFILE_ARG) $(SET_ARGS) $(OVERLAY_ARG)

images: setup
	$(PY) -m stainworth.deploy.images $(if $(NO_PUSH),--no-push)

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) -m stainworth.cli bench

# Every training of the pipelines measured and costed (PROFILE, default paper): GPU-hours, memory, store.
plan: setup
	$(PY) -m stainworth.cli plan --profile $(or $(PROFILE),paper) $(SET_ARGS) $(if $(GPUS),--gpus $(GPUS))

# On one CUDA GPU, under 5 minutes: bf16 peak, every paper unit's training FLOP/s and memory, staining.
gpu-check: setup
	$(PY) -m stainworth.cli gpu-check --profile $(or $(PROFILE),paper) $(SET_ARGS)

# The phantom's reference-observer table (docs/phantom.md section 8); QUICK=1 for a quick look.
reference: setup
	$(PY) -m stainworth.cli reference-observers $(if $(QUICK),--quick) --out runs/reference_observers

lint: setup
	$(VENV)/bin/ruff check shared components pipelines tests
	$(VENV)/bin/mypy shared/stainworth
	$(MAKE) --no-print-directory lint-imports

# The layers of docs/architecture.md (import-linter). It reads the package from disk, so it gets a
# stainworth folder with pipelines/ and components/ in place, as an installed package has them.
lint-imports:
	@stage=$$(mktemp -d) && mkdir $$stage/stainworth && \
	ln -s $(CURDIR)/shared/stainworth/* $(CURDIR)/pipelines $(CURDIR)/components $$stage/stainworth/ && \
	PYTHONPATH=$$stage $(VENV)/bin/lint-imports --no-cache; status=$$?; rm -rf $$stage; exit $$status

clean:
	rm -rf runs dist .pytest_cache
