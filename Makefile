# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv with a Python >= 3.12 found on this machine (see .ci/find-python).
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow lint typecheck bench clean

$(STAMP): pyproject.toml
	@PYTHON_BIN=$$(.ci/find-python) && echo "using $$PYTHON_BIN" && \
	  ( [ -x $(PY) ] || "$$PYTHON_BIN" -m venv $(VENV) )
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,fast]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/bayesmix demo --out-dir .

lint: $(STAMP)
	$(VENV)/bin/ruff format --check bayesmix tests benchmarks
	$(VENV)/bin/ruff check bayesmix tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: lint typecheck
	MPLBACKEND=Agg $(PY) -m pytest

test-slow: $(STAMP)
	MPLBACKEND=Agg $(PY) -m pytest -m slow

bench: $(STAMP)
	MPLBACKEND=Agg $(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
