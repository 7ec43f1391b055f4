# delocate-hf — developer entry points. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CPU wheel of torch 2.13.0 lies on this machine's disk; on a CUDA machine: make setup TORCH=torch
TORCH  ?= torch==2.13.0
EXTRAS ?= dev,space,dlib
STAMP  := $(VENV)/.installed

.PHONY: setup test demo default-model clean

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q

demo: setup
	$(VENV)/bin/delocate demo --output-dir outputs/demo

# Retrain the small model shipped in delocate_hf/default_model/ (the demo pipeline, longer) and write its card.
default-model: setup
	$(PY) scripts/train_default_model.py

clean:
	rm -rf outputs build dist *.egg-info
