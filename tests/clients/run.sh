#!/usr/bin/env bash
# The generated clients: first the drift check (the committed Python and
# TypeScript clients are what the API's OpenAPI document generates), then
# each client's tests against a real `cairn serve` started here: start a run,
# wait until it settles, resume it, wait again; read a refusal.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Installs the pinned generators (target/clients-venv, and the TypeScript
# package's node_modules) and compares.
bash clients/generate.sh --check

source tests/serve.sh
start_server clients

echo "Python client:"
CAIRN_URL="$url" CAIRN_API_KEY="$key" PYTHONPATH=clients/python/cairn-client \
    target/clients-venv/bin/python -m unittest discover -s clients/python/tests -t clients/python/tests -v

echo "TypeScript client:"
(cd clients/typescript && rm -rf dist && node_modules/.bin/tsc -p . && \
    CAIRN_URL="$url" CAIRN_API_KEY="$key" node --test dist/test/)
