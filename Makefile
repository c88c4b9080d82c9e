# Two entry points for a new user: `make demo` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

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

test: $(BIN)/.installed lint
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/python -m ruff check lanner sensor functions deliver tests bench
	$(BIN)/python -m mypy

bench: $(BIN)/.installed
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# --- Lambda artifact, for `sam build` (template.yaml: Metadata BuildMethod: makefile) -------
# sam build runs `make build-<LogicalId>` with ARTIFACTS_DIR set; the functions share
# one artifact (SAM builds it once): the runtime's wheels plus lanner/, deliver/, functions/,
# rules/.
# The wheels are for the template's runtime and architecture (python3.12 on arm64); to build
# for x86_64 set LAMBDA_ARCH=x86_64 here and Architectures in template.yaml together.
LAMBDA_PYTHON ?= 3.12
LAMBDA_ARCH ?= aarch64
LAMBDA_FUNCTIONS := KinesisDetector CloudTrailDetector EksAuditDetector SlackDelivery WebhookDelivery PagerDutyDelivery SecurityHubDelivery OcsfDelivery AlertSummarizer FalcoIntake

.PHONY: $(addprefix build-,$(LAMBDA_FUNCTIONS))

$(addprefix build-,$(LAMBDA_FUNCTIONS)):
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 2; }
	@# Binary wheels only, for the target platform, whatever machine builds: a source build
	@# would compile for this machine. manylinux2014 and 2_28 wheels both run on the
	@# runtime's Amazon Linux 2023 (glibc 2.34).
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-warn-conflicts --no-compile \
	  --target "$(ARTIFACTS_DIR)" --implementation cp --python-version $(LAMBDA_PYTHON) \
	  --platform manylinux2014_$(LAMBDA_ARCH) --platform manylinux_2_28_$(LAMBDA_ARCH) \
	  --only-binary=:all: --upgrade -r functions/requirements.txt
	rm -rf "$(ARTIFACTS_DIR)/bin"
	cp -R lanner functions rules deliver "$(ARTIFACTS_DIR)/"
	rm -f "$(ARTIFACTS_DIR)/functions/requirements.txt"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -type d -prune -exec rm -rf {} +
