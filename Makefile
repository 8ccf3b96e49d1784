# Two commands on a fresh machine: `make demo` and `make test`.
# Both create or reuse .venv and install the pinned development environment first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.handpose-installed

.PHONY: venv test lint format demo bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: an unpinned torch would pull several GB of CUDA packages.
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	# timm requires torchvision, whose PyPI wheel does not import beside the CPU torch: install
	# timm alone (its other requirements come with the dev extra; handpose shims torchvision).
	$(PY) -m pip install -q -c constraints.txt --no-deps timm
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint
	$(PY) -m pytest -q -n 2 --dist loadfile tests

demo: venv
	$(VENV)/bin/handpose demo

bench: venv
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
