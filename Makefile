# Every install goes through constraints.txt, which pins the CPU wheel of torch.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
DEMO_DIR := .demo/digits

.PHONY: install lint test test-fast demo bench release-templates clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

## ruff (lint, and the format check) over the tree and mypy (strict, litgen/): `make test` runs them first.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

## lint, then the whole suite, slow (Lightning-running) tests included; this is what CI runs.
test: lint
	$(PY) -m pytest -q

## Unit tests only (no Lightning runs).
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

## Scaffold the default project (validated by fast_dev_run), train it, print its validation accuracy.
demo: $(STAMP)
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/litgen new $(DEMO_DIR) --defaults --data project_name=digits-demo
	@echo "training $(DEMO_DIR) (log: $(DEMO_DIR)/train.log)"
	cd $(DEMO_DIR) && PYTHONPATH=src ../../$(PY) -m digits_demo fit --config configs/default.yaml \
		--trainer.enable_progress_bar=false > train.log 2>&1 || (tail -n 30 train.log; exit 1)
	@grep -E "^best val_acc=" $(DEMO_DIR)/train.log
	@grep -Eo "^best val_acc=[0-9.]+" $(DEMO_DIR)/train.log | sed 's/best val_acc=/final validation accuracy: /'

bench: $(STAMP)
	$(PY) benchmarks/run.py

## Before tagging a release: record templates/ in litgen/template_history.bundle (what `litgen update` merges from).
release-templates: $(STAMP)
	$(PY) -m litgen.template_release add-release --replace
	$(PY) -m litgen.template_release verify

clean:
	rm -rf $(VENV) .demo dist build .pytest_cache
