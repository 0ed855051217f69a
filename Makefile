# The two commands of the README: `make bench` and `make test` (and `make
# lint`, which CI runs too). They create .venv on first use and reinstall
# only when a requirements file or setup.cfg changed (the stamp below).
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pip prints one harmless warning per package for this machine's local
# indexes; keep the log readable. The braces keep pip's exit status: with
# pipefail a failed install (no network, a full disk) stops make right there
# instead of surfacing later as a missing module.
QUIET := { grep -v 'is ignored: it is neither a file nor a directory' || true; }
# A new .venv takes about 6 GB (torch's CUDA build), .venv-compat about 3 GB.
# Say so before pip runs out of space half-way.
DISK_CHECK = avail=$$(df -Pk . | awk 'NR==2 {print $$4}'); \
	if [ "$$avail" -lt $(1) ]; then \
	echo "warning: $$((avail / 1048576)) GB free here; $(2) needs about $$(($(1) / 1048576)) GB" >&2; fi
PYTEST_ARGS ?=

.PHONY: env test test-all test-compat lint bench data devsite wheels312 clean

# Built-in data of the quick configs (tools/generate_data.py); each
# generator writes arsam_mm_meta.json last, which serves as the stamp.
QUICK_DATA := data/quick/cityscapes/arsam_mm_meta.json \
	data/quick/coco/arsam_mm_meta.json data/quick/cifar10/cifar-10-batches-py/arsam_mm_meta.json

$(STAMP): requirements.txt requirements-nodeps.txt requirements-dev.txt \
		setup.cfg pyproject.toml
	test -x $(BIN)/python || { $(call DISK_CHECK,6291456,.venv); $(PY) -m venv $(VENV); }
	$(BIN)/pip install -q -r requirements.txt 2>&1 | $(QUIET)
	$(BIN)/pip install -q -r requirements-dev.txt 2>&1 | $(QUIET)
	$(BIN)/pip install -q --no-deps -r requirements-nodeps.txt 2>&1 | $(QUIET)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e . 2>&1 | $(QUIET)
	$(BIN)/python -c 'import arsam_mm, mmseg.models, mmpose.models, mmdet.models, albumentations'
	touch $(STAMP)

env: $(STAMP)

test: env
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-all: env
	$(BIN)/python -m pytest --runslow $(PYTEST_ARGS)

# flake8 and isort (requirements-dev.txt) as setup.cfg configures them, over
# the package, the tools, the tests and the configs.
LINT_PATHS := arsam_mm tools tests configs
lint: env
	$(BIN)/flake8 $(LINT_PATHS)
	$(BIN)/isort --settings-path setup.cfg --check-only --diff $(LINT_PATHS)

# The oldest supported stack (requirements-compat.txt: torch 2.1.2, numpy < 2,
# mmengine 0.10.3, no toolboxes) in a second environment, running the core,
# family and engine tests with the foreach kernels forced on (the path CUDA
# selects; kernels.py reads ARSAM_MM_FOREACH). Tests that need a toolbox skip.
COMPAT_VENV := .venv-compat
COMPAT_STAMP := $(COMPAT_VENV)/.installed
COMPAT_TESTS := tests/test_core.py tests/test_family.py tests/test_aesam.py \
	tests/test_latesam.py \
	tests/test_hardening.py tests/test_engine.py tests/test_engine_amp.py \
	tests/test_engine_runner.py tests/test_engine_ddp.py tests/test_compat.py \
	tests/test_host_reads.py

$(COMPAT_STAMP): requirements-compat.txt setup.cfg pyproject.toml
	test -x $(COMPAT_VENV)/bin/python || { $(call DISK_CHECK,3145728,.venv-compat); $(PY) -m venv $(COMPAT_VENV); }
	$(COMPAT_VENV)/bin/pip install -q -r requirements-compat.txt 2>&1 | $(QUIET)
	$(COMPAT_VENV)/bin/pip install -q --no-deps --no-build-isolation -e . 2>&1 | $(QUIET)
	$(COMPAT_VENV)/bin/python -c 'import torch, mmengine, arsam_mm.engine; \
		assert torch.__version__.startswith("2.1."), torch.__version__'
	touch $(COMPAT_STAMP)

test-compat: $(COMPAT_STAMP)
	ARSAM_MM_FOREACH=1 $(COMPAT_VENV)/bin/python -m pytest $(COMPAT_TESTS) $(PYTEST_ARGS)

data/quick/cityscapes/arsam_mm_meta.json: | $(STAMP)
	$(BIN)/python tools/generate_data.py cityscapes --out data/quick/cityscapes --overwrite
data/quick/coco/arsam_mm_meta.json: | $(STAMP)
	$(BIN)/python tools/generate_data.py coco --out data/quick/coco --overwrite
data/quick/cifar10/cifar-10-batches-py/arsam_mm_meta.json: | $(STAMP)
	$(BIN)/python tools/generate_data.py cifar10 --out data/quick/cifar10 --overwrite

# Generated data of the frontier tasks' -test configs (the commands in the
# configs' headers: train, val and a test split apart from val); `make
# bench` runs the classification one (tools/benchmark.py's QUICK). The data
# of the earlier frontier configs (val only) is in their headers; the
# folders differ, so that data is never taken for this.
DIGITS_TEST_DATA := data/digits_noise30_test70-test/cifar-10-batches-py/arsam_mm_meta.json
FRONTIER_DATA := data/frontier/cityscapes-64x64-noise20-test/arsam_mm_meta.json \
	data/frontier/coco-kpnoise-test/arsam_mm_meta.json $(DIGITS_TEST_DATA)

data/frontier/cityscapes-64x64-noise20-test/arsam_mm_meta.json: | $(STAMP)
	$(BIN)/python tools/generate_data.py cityscapes --overwrite \
		--out data/frontier/cityscapes-64x64-noise20-test --size 64x64 \
		--num-train 64 --num-val 32 --num-test 64 --label-noise 0.2
data/frontier/coco-kpnoise-test/arsam_mm_meta.json: | $(STAMP)
	$(BIN)/python tools/generate_data.py coco --overwrite \
		--out data/frontier/coco-kpnoise-test --num-train 256 --num-val 64 \
		--num-test 64 --size 128x160 --keypoint-noise 0.02 --swap-prob 0.2
$(DIGITS_TEST_DATA): | $(STAMP)
	$(BIN)/python tools/generate_data.py digits --overwrite \
		--out data/digits_noise30_test70-test --noise-rate 0.3 \
		--test-fraction 0.7 --val-fraction 0.35

data: $(QUICK_DATA) $(FRONTIER_DATA)

bench: env $(DIGITS_TEST_DATA)
	$(BIN)/python tools/benchmark.py --quick --work-dir work_dirs/benchmark/quick

# What the scripts in tools/device/ carry to a lent GPU machine (Python
# 3.12, its own torch, no network): pure-Python packages copied from .venv
# for gpu_checks.sh, cp312 wheels for gpu_bench.sh.
DEVSITE_PACKAGES := mmengine addict yapf yapf_third_party termcolor platformdirs
devsite: env
	rm -rf build/_devsite && mkdir -p build/_devsite
	site=$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	for p in $(DEVSITE_PACKAGES); do cp -r "$$site/$$p" build/_devsite/; done

wheels312: env
	bash tools/device/fetch_wheels312.sh build/wheels312

clean:
	rm -rf $(VENV) $(COMPAT_VENV)
