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

cargo build --quiet --locked --bin cairn
data=$(mktemp -d)
out="$data.out"
CAIRN_DATA_DIR="$data" CAIRN_CACHE_DIR="$PWD/target/contract-compiled" \
    target/debug/cairn serve --listen 127.0.0.1:0 >"$out" 2>"$data.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data" "$out" "$data.log"' EXIT

url=""
for _ in $(seq 1 600); do
    url=$(sed -n 's/^cairn listening on //p' "$out")
    [ -n "$url" ] && break
    kill -0 $server 2>/dev/null || { cat "$data.log"; exit 1; }
    sleep 0.2
done
[ -n "$url" ] || { echo "cairn serve did not start"; cat "$data.log"; exit 1; }
key=$(cat "$data/default-api-key")

"$venv/bin/st" --config-file tests/contract/schemathesis.toml run "$url/v1/openapi.json" \
    -H "Authorization: Bearer $key" \
    --checks all \
    --exclude-operation-id uploadPlugin \
    --max-examples "${CAIRN_CONTRACT_EXAMPLES:-40}" \
    --seed "${CAIRN_CONTRACT_SEED:-20261202}" \
    --no-color \
    --generation-database none \
    --report junit --report-dir target/contract-report
