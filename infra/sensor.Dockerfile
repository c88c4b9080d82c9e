# lanner node sensor image (see infra/README.md, "Build and push the image"). Build from
# the repository root, with nothing but a clean checkout (network: Debian's mirrors, PyPI):
#   docker build -f infra/sensor.Dockerfile -t lanner-sensor:0.1.0 .
#   buildah build -f infra/sensor.Dockerfile --ignorefile infra/sensor.Dockerfile.dockerignore -t lanner-sensor:0.1.0 .
# BuildKit reads infra/sensor.Dockerfile.dockerignore (next to this file) by itself: the build
# context is only what the COPY lines below take (tests/test_infra.py checks both lists).

# Kernel headers for bcc, so that nodes need none installed (EKS AL2023 and Bottlerocket
# alike). bcc compiles the probes at start; they read only tracepoint arguments (laid out
# from the node's own tracefs at compile time) and BPF helpers, never a kernel structure,
# so any recent header tree compiles them whatever kernel the node runs
# (sensor/headers.py chooses the tree and says which). Debian's headers package depends on
# gcc and kbuild, which libbcc's built-in clang does not use: it is installed in a stage of
# its own and only its two trees (linux-headers-<v>-<arch> and -common) are copied.
FROM debian:bookworm-slim AS headers
RUN apt-get update \
    && apt-get install -y --no-install-recommends "linux-headers-$(dpkg --print-architecture)" \
    && find /usr/src -mindepth 1 -maxdepth 1 ! -name 'linux-headers-*' -exec rm -rf {} + \
    && rm -rf /var/lib/apt/lists/*

FROM debian:bookworm-slim

# bcc comes from Debian, never from PyPI (the "bcc" project there is not these bindings):
# python3-bpfcc is built for the libbcc it pulls in, and libbcc carries clang/LLVM as
# libraries, so no compiler package is needed. bookworm's python3 is 3.11, as lanner requires.
# xz-utils lets bcc unpack /sys/kernel/kheaders.tar.xz, the last fallback should the
# headers below be missing. bpfcc-tools (the command-line tools) are not needed.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates \
        python3 \
        python3-bpfcc \
        python3-venv \
        xz-utils \
    && rm -rf /var/lib/apt/lists/*

# /usr/src/linux-headers-<v>-<arch> (generated headers, a Makefile naming the other) and
# /usr/src/linux-headers-<v>-common (the rest). Their scripts/ and tools/ links point into
# kbuild, which is left out: nothing here builds a module.
COPY --from=headers /usr/src/ /usr/src/

WORKDIR /opt/lanner
# README.md is part of the package metadata (pyproject's readme).
COPY pyproject.toml README.md ./
COPY lanner/ lanner/
COPY sensor/ sensor/
COPY cli/ cli/
COPY bpf/ bpf/
COPY rules/ rules/
# The package list (pyproject.toml) names these too: every lanner command imports deliver/
# (text made inert), and the packaging must find functions/ and samples/.
COPY deliver/ deliver/
COPY functions/ functions/
COPY samples/ samples/

# The venv sees Debian's dist-packages, where the bcc module lives. lanner is installed
# editable so that the installed package keeps the repository layout it resolves its
# bundled rules and BPF sources from, with its `sensor` extra: boto3 (Kinesis),
# prometheus-client (/metrics), pydantic (--config). Byte-code is compiled here because
# the root filesystem is read-only at run time (and each probe is a new Python process).
# The last lines fail the build if a module the sensor imports is missing, or if the copied
# headers are not a tree the sensor can use.
RUN python3 -m venv --system-site-packages /opt/lanner/venv \
    && /opt/lanner/venv/bin/pip install --no-cache-dir --editable '/opt/lanner[sensor]' \
    && /opt/lanner/venv/bin/python -m compileall -q /opt/lanner/lanner /opt/lanner/cli /opt/lanner/sensor /opt/lanner/deliver \
    && /opt/lanner/venv/bin/python -c "import bcc, boto3, lanner, prometheus_client, pydantic" \
    && /opt/lanner/venv/bin/python -c "import platform; from sensor.headers import installed_trees, kernel_arch, resolve_tree; print(*resolve_tree(installed_trees()[0], kernel_arch(platform.machine())))"

ENV PATH=/opt/lanner/venv/bin:$PATH \
    PYTHONPATH=/opt/lanner \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LANNER_RULES_DIR=/opt/lanner/rules

# No USER: the sensor runs as uid 0. Capabilities are only effective for a non-root uid
# through file capabilities or ambient sets, which the read-only, no_new_privs container
# cannot rely on, and /proc of other users' processes and the tracefs files are root-owned.
# The DaemonSet drops every capability except the few listed.
# Prometheus metrics (`--metrics-listen 0.0.0.0:9376` in the DaemonSet).
EXPOSE 9376
ENTRYPOINT ["lanner"]
CMD ["sensor", "--json"]
