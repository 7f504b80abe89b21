# Two commands on a fresh clone: `make run` (the pipeline) and `make test` (the tests).
# Both create .venv in this folder and install the locked dependencies first; the
# install reruns only when pyproject.toml or constraints.txt change.

PYTHON ?= python3
VENV := .venv
INSTALLED := $(VENV)/.installed

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: run test setup

run: $(INSTALLED)
	dvc repro

test: $(INSTALLED)
	python -m pytest

setup: $(INSTALLED)

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		--constraint constraints.txt --editable '.[test]'
	touch $@
