#!/bin/sh
# Builds {{name}}.wasm: a virtual environment with the SDK and componentize-py
# (made the first time), then the component.
set -e
cd "$(dirname "$0")"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
.venv/bin/python -m cairn_sdk build app -o {{name}}.wasm
echo "built {{name}}.wasm"
