# Two entry points for a new user: `make demo` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo ui test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv --system-site-packages $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# The sensor uses Debian's bcc (python3-bpfcc), not a PyPI package: expose just it.
	@if [ -d /usr/lib/python3/dist-packages/bcc ]; then \
	  ln -sfn /usr/lib/python3/dist-packages/bcc "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/bcc"; \
	fi
	touch $@

demo: $(BIN)/.installed
	$(BIN)/lanner demo

# The dashboard over the alerts the last `make demo` stored.
ui: $(BIN)/.installed
	$(BIN)/lanner ui

test: $(BIN)/.installed lint
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/python -m ruff check lanner sensor functions deliver dashboard cli tests bench
	$(BIN)/python -m mypy

bench: $(BIN)/.installed
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# --- Lambda artifact, for `sam build` (template.yaml: Metadata BuildMethod: makefile) -------
# sam build runs `make build-<LogicalId>` with ARTIFACTS_DIR set, once per function: SAM never
# shares one build between makefile functions, even with the same CodeUri (each makefile
# function is its own build definition in sam-cli's build graph). The functions run the same
# code, so the targets build one shared artifact, the runtime's wheels plus lanner/, deliver/,
# dashboard/ (the page's static files with it), functions/, rules/, beside the functions'
# artifact directories (in sam build's .aws-sam/build/, which each sam build empties) and copy
# it: the first target builds it, the others find it up to date (make's own check against the
# sources) and only copy. Under `sam build --parallel` the targets take turns on a lock, so it
# is still built once.
# The wheels are for the template's runtime and architecture (python3.12 on arm64); to build
# for x86_64 set LAMBDA_ARCH=x86_64 here and Architectures in template.yaml together.
LAMBDA_PYTHON ?= 3.12
LAMBDA_ARCH ?= aarch64
LAMBDA_FUNCTIONS := KinesisDetector CloudTrailDetector EksAuditDetector SlackDelivery WebhookDelivery PagerDutyDelivery SecurityHubDelivery OcsfDelivery StoreDelivery AlertSummarizer FalcoIntake DashboardFunction
# This Makefile's own path: sam build runs make in a scratch copy of the sources, but names the
# original Makefile.
LAMBDA_MAKEFILE := $(abspath $(lastword $(MAKEFILE_LIST)))
LAMBDA_SHARED = $(abspath $(ARTIFACTS_DIR)/..)/.lanner-lambda-py$(LAMBDA_PYTHON)-$(LAMBDA_ARCH)
LAMBDA_SOURCES = functions/requirements.txt $(LAMBDA_MAKEFILE) \
  $(shell find lanner functions rules deliver dashboard -type f ! -path '*/__pycache__/*' ! -name '*.pyc' ! -path 'rules/tests/*')
# Runs the rest of the command line holding an exclusive lock on the file named first
# (fcntl: released however the holder ends, unlike a lock directory).
LAMBDA_LOCKED = $(PYTHON) -c 'import fcntl, subprocess, sys; lock = open(sys.argv[1], "w"); fcntl.flock(lock, fcntl.LOCK_EX); sys.exit(subprocess.call(sys.argv[2:]))'

.PHONY: $(addprefix build-,$(LAMBDA_FUNCTIONS)) lambda-shared

$(addprefix build-,$(LAMBDA_FUNCTIONS)):
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 2; }
	@mkdir -p "$(ARTIFACTS_DIR)"
	@$(LAMBDA_LOCKED) "$(LAMBDA_SHARED).lock" $(MAKE) --no-print-directory -f "$(LAMBDA_MAKEFILE)" lambda-shared
	cp -R "$(LAMBDA_SHARED)/." "$(ARTIFACTS_DIR)/"

# Only with ARTIFACTS_DIR set: no other target pays for listing the sources.
ifneq ($(ARTIFACTS_DIR),)
lambda-shared: $(LAMBDA_SHARED).built

$(LAMBDA_SHARED).built: $(LAMBDA_SOURCES)
	@echo "building the functions' shared artifact in $(LAMBDA_SHARED)"
	rm -rf "$(LAMBDA_SHARED)" "$@"
	@# Binary wheels only, for the target platform, whatever machine builds: a source build
	@# would compile for this machine. manylinux2014 and 2_28 wheels both run on the
	@# runtime's Amazon Linux 2023 (glibc 2.34).
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-warn-conflicts --no-compile \
	  --target "$(LAMBDA_SHARED)" --implementation cp --python-version $(LAMBDA_PYTHON) \
	  --platform manylinux2014_$(LAMBDA_ARCH) --platform manylinux_2_28_$(LAMBDA_ARCH) \
	  --only-binary=:all: --upgrade -r functions/requirements.txt
	rm -rf "$(LAMBDA_SHARED)/bin"
	cp -R lanner functions rules deliver dashboard "$(LAMBDA_SHARED)/"
	@# The rules' examples are for `lanner rules test`, not for the detectors.
	rm -rf "$(LAMBDA_SHARED)/rules/tests" "$(LAMBDA_SHARED)/functions/requirements.txt"
	find "$(LAMBDA_SHARED)" -name __pycache__ -type d -prune -exec rm -rf {} +
	touch "$@"
endif
