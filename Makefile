# Two commands do everything: `make demo` and `make test`. Both create .venv on first use.
# `make demo` continues runs/demo if it exists (a finished run is only re-evaluated).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export KERAS_BACKEND ?= tensorflow
# `make test` runs the suite once per backend; `make test BACKENDS=jax` runs one. PyTorch on
# the CPU runs everything but the slow learning tests (eager PyTorch takes over 5 minutes each).
# Two pytest workers (pytest-xdist): much of a small test's time is single-threaded XLA
# compilation, so two cores finish the suite sooner. Each test goes to whichever worker is free,
# slow ones first (tests/conftest.py); a file that shares a trained model stays on one worker.
# JAX compiles every test's step with XLA: its short tests compile with LLVM's optimisations off
# (a quarter less time), its slow learning tests with them on (they run long enough to gain).
BACKENDS ?= tensorflow jax torch
# The `once` tests that are not slow (outcome the same on every backend) run in one pass: the
# PyTorch one, whose eager steps make a test of a few steps cheapest, else the first backend's.
export GAN_ZOO_ONCE_BACKEND ?= $(if $(filter torch,$(BACKENDS)),torch,$(firstword $(BACKENDS)))
WORKERS ?= 2
PYTEST = $(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup --no-loadscope-reorder
QUICK_XLA = --xla_backend_optimization_level=0
export TF_CPP_MIN_LOG_LEVEL ?= 2

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

.PHONY: install demo test
install: $(STAMP)

demo: $(STAMP)
	$(BIN)/gan-zoo train --model dcgan-cls --preset small --data shapes --fix background=black \
		--image-size 32 --num-images 5000 --epochs 24 --batch-size 64 --set generator_ema=0.99 \
		--out runs/demo --resume
	$(BIN)/gan-zoo evaluate --checkpoint runs/demo --fix background=black \
		--metrics fid,kid,alignment,diversity --num-samples 1000 --out runs/demo/report.json

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@set -e; for backend in $(BACKENDS); do \
		echo "== pytest on KERAS_BACKEND=$$backend"; \
		case $$backend in \
		torch) KERAS_BACKEND=torch $(PYTEST) -m "not slow";; \
		jax) KERAS_BACKEND=jax $(PYTEST) -m slow; \
			KERAS_BACKEND=jax XLA_FLAGS=$(QUICK_XLA) $(PYTEST) -m "not slow";; \
		*) KERAS_BACKEND=$$backend $(PYTEST);; \
		esac; \
	done
