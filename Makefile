# heedful — the two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Every install comes from the lock file (exact versions and hashes); `make upgrade` re-locks.
LOCK := requirements/dev.lock
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test lint unit bench venv clean lock upgrade

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# first the locked pip itself (hash-checked): the pip a new venv starts with (23.2) rejects the lock's
	@# extras-stripped pins in --require-hashes mode once a newer release of such a dependency is published
	@sed -n '/^pip==/,/^ *#/p' $(LOCK) | grep -v '^ *#' > $(VENV)/pip.lock
	$(PY) -m pip install -q --require-hashes -r $(VENV)/pip.lock
	$(PY) -m pip install -q --require-hashes -r $(LOCK)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/heedful demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts
	$(VENV)/bin/mypy
	$(PY) scripts/dep_audit.py

unit: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile

test: lint unit

# `lock` records a change of pyproject.toml (keeping the other pins); `upgrade` moves every pin to the newest
# release pyproject.toml allows, then runs the suite.
# (no dependency on the install stamp: a dependency just added to pyproject.toml is not installable before it is locked)
lock:
	@test -x $(VENV)/bin/pip-compile || { test -x $(PY) || $(PYTHON) -m venv $(VENV); $(PY) -m pip install -q pip-tools; }
	$(VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --extra dev -o $(LOCK) pyproject.toml

upgrade: $(STAMP)
	$(VENV)/bin/pip-compile -q --upgrade --generate-hashes --allow-unsafe --strip-extras --extra dev -o $(LOCK) pyproject.toml
	$(MAKE) test

bench: $(STAMP)
	@# the peers are compared against, on top of the locked environment (kept at the locked versions)
	@sed -n 's/^\([A-Za-z0-9][^ ]*==[^ ]*\).*/\1/p' $(LOCK) > $(VENV)/constraints.txt
	$(PY) -m pip install -q -e '.[bench]' -c $(VENV)/constraints.txt
	@# bench_faults.py restarts the PostgreSQL server (kill -9 and restart runs): run it by hand only.
	@for f in bench/bench_*.py; do [ "$$f" = bench/bench_faults.py ] && continue; echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache artifacts
