#!/usr/bin/env bash
# The API contract check: schemathesis, with every check, against the OpenAPI
# document of a real `cairn serve` started here on 127.0.0.1:0 over a fresh
# data directory. Any failure fails the run. schemathesis comes from PyPI into
# a virtual environment under target/ (made once, reused).
#
# `POST /v1/plugins` (uploadPlugin) is left out: its body is a WebAssembly
# component, which schemathesis can only fill with random bytes, and every
# such upload is refused with the same 422 the API tests already cover.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=target/contract-venv
if ! "$venv/bin/st" --version >/dev/null 2>&1; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/contract/requirements.txt
fi

source tests/serve.sh
start_server contract

"$venv/bin/st" --config-file tests/contract/schemathesis.toml run "$url/v1/openapi.json" \
    -H "Authorization: Bearer $key" \
    --checks all \
    --exclude-operation-id uploadPlugin \
    --max-examples "${CAIRN_CONTRACT_EXAMPLES:-40}" \
    --seed "${CAIRN_CONTRACT_SEED:-20261202}" \
    --no-color \
    --generation-database none \
    --report junit --report-dir target/contract-report
