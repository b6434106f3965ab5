# Every target sets itself up: a fresh machine with only the package registries needs nothing else.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
OUT ?= out/demo

.PHONY: install test demo bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU wheel of torch that lies on disk; a bare `torch` would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[model,train,dicom,dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

demo: $(STAMP)
	bash scripts/demo.sh $(OUT)

bench: $(STAMP)
	$(PY) benchmarks/bench_perturb.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
