# The two commands of the README: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup run test lint check fmt bench clean schema docs

setup: $(STAMP)

# torch first, pinned to the CPU wheel on disk; the package itself only states a range.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[run,test]'
	touch $(STAMP)

run: setup
	HF_HUB_OFFLINE=1 $(VENV)/bin/ft check recipes/quickstart.ft
	HF_HUB_OFFLINE=1 $(VENV)/bin/ft plan recipes/quickstart.ft
	HF_HUB_OFFLINE=1 $(VENV)/bin/ft run recipes/quickstart.ft

# Style and types are kept by tools; `make test` runs them first, so CI does.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	mkdir -p build/mypy/ftlang
	ln -sfn ../../../ftlang/__init__.py build/mypy/ftlang/__init__.py
	for p in grammar compiler plan; do ln -sfn ../../../$$p build/mypy/ftlang/$$p; done
	$(VENV)/bin/mypy

test: lint
	HF_HUB_OFFLINE=1 $(PY) -m pytest

check: setup
	$(VENV)/bin/ft check recipes/*.ft
	$(VENV)/bin/ft fmt --check recipes/

bench: setup
	$(PY) -m pip install -q -e '.[run,bench]' torch==2.13.0
	$(PY) bench/check_speed.py
	HF_HUB_OFFLINE=1 $(PY) bench/sft_throughput.py --quick

clean:
	rm -rf $(VENV) runs .pytest_cache

# The Plan's JSON Schema, which `ft check` validates against without importing pydantic.
schema: setup
	$(PY) -c "import json; from ftlang.plan.models import Plan; \
	open('plan/plan.schema.json', 'w').write(json.dumps(Plan.model_json_schema(), indent=2, sort_keys=True) + '\n')"

# The docs' tables of the catalogue (metrics…), between their `<!-- catalogue:NAME -->` markers.
docs: setup
	$(PY) -m ftlang.plan.catalogue_docs
