#!/usr/bin/env bash
# Generates Cairn's HTTP clients from the OpenAPI document `cairn openapi`
# prints (the one the server serves): clients/openapi.json, the Python package
# in clients/python/cairn-client (openapi-python-client) and the TypeScript
# types in clients/typescript/src/schema.ts (openapi-typescript). Generators
# are pinned, installed under target/ and clients/typescript/node_modules.
#
#   clients/generate.sh           regenerate the committed clients
#   clients/generate.sh --check   fail, with the diff, if they differ from
#                                 what the document generates (drift)
set -euo pipefail
cd "$(dirname "$0")/.."

check=false
[ "${1:-}" = "--check" ] && check=true

venv=target/clients-venv
# Made again whenever the pins change.
if ! cmp -s clients/python/requirements.txt "$venv/installed.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r clients/python/requirements.txt
    cp clients/python/requirements.txt "$venv/installed.txt"
fi
(cd clients/typescript && npm ci --silent --no-audit --no-fund)

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo build --quiet --locked --bin cairn
target/debug/cairn openapi >"$out/openapi.json"
# The generator runs ruff on its output: the pinned one, from the venv.
PATH="$PWD/$venv/bin:$PATH" RUFF_NO_CACHE=true "$venv/bin/openapi-python-client" generate \
    --path "$out/openapi.json" --config clients/python/generator.yaml \
    --meta setup --output-path "$out/cairn-client" >"$out/python.log" 2>&1 \
    || { cat "$out/python.log"; exit 1; }
clients/typescript/node_modules/.bin/openapi-typescript "$out/openapi.json" \
    -o "$out/schema.ts" >"$out/typescript.log" 2>&1 \
    || { cat "$out/typescript.log"; exit 1; }

if $check; then
    drift=0
    diff -u clients/openapi.json "$out/openapi.json" || drift=1
    diff -ru clients/python/cairn-client "$out/cairn-client" || drift=1
    diff -u clients/typescript/src/schema.ts "$out/schema.ts" || drift=1
    if [ $drift -ne 0 ]; then
        echo "The committed clients differ from what the API's document generates: run clients/generate.sh" >&2
        exit 1
    fi
    echo "The clients match the API's document."
else
    cp "$out/openapi.json" clients/openapi.json
    rm -rf clients/python/cairn-client
    cp -r "$out/cairn-client" clients/python/cairn-client
    cp "$out/schema.ts" clients/typescript/src/schema.ts
    echo "Generated clients/openapi.json, clients/python/cairn-client and clients/typescript/src/schema.ts."
fi
