# The two commands a newcomer needs: `make demo` and `make test`.
# Both create .venv, install the package (which builds the Go runner) and run.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
GO_SRC := $(wildcard engines/runner/*.go) engines/runner/go.mod engines/runner/go.sum

.PHONY: demo test bench clean

$(STAMP): pyproject.toml hatch_build.py $(GO_SRC)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(STAMP)
	$(BIN)/python -m examples.demo

test: $(STAMP)
	cd engines/runner && go vet ./... && go test -count=1 ./...
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy actors engines registry
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench.runner_latency
	$(BIN)/python -m bench.engine_latency
	$(BIN)/python -m bench.reload_latency
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) engines/_bin build dist *.egg-info
