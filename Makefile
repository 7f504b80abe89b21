# Two commands on a fresh clone: `make run` (the pipeline) and `make test` (the tests);
# `make test-fast` is the developer loop (the tests not marked slow).
# Both create .venv in this folder and install the locked dependencies first; the
# install reruns only when pyproject.toml or constraints.txt change.

PYTHON ?= python3
VENV := .venv
INSTALLED := $(VENV)/.installed

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: run test test-fast lint setup

run: $(INSTALLED)
	dvc repro

# CI's command: the style checks, then every test.
test: lint
	python -m pytest

# The developer loop: the style checks, then the tests not marked slow (under 2 minutes).
test-fast: lint
	python -m pytest -m "not slow"

lint: $(INSTALLED)
	ruff check .
	ruff format --check .

setup: $(INSTALLED)

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		--constraint constraints.txt --editable '.[test]'
	touch $@
