#!/usr/bin/env bash
# The dashboard's end-to-end tests: Debian's Chromium, driven by Playwright
# (playwright-core, pinned in package-lock.json), against a real `cairn serve`
# started here with two tenants and a stub model server for the planner. Installs Chromium from the distribution's
# packages and the Node packages when they are missing. Screenshots of each
# page go to target/dashboard-screenshots/.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v chromium >/dev/null; then
    echo "installing Debian's chromium"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/axe-core ]; then
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

# The planner's model: a stub on loopback, stopped with the server.
rm -f target/browser-model.url
node tests/browser/model-stub.mjs > target/browser-model.url &
stub=$!
trap "kill $stub 2>/dev/null" EXIT
on_exit="kill $stub 2>/dev/null"
for _ in $(seq 1 50); do [ -s target/browser-model.url ] && break; sleep 0.1; done
export CAIRN_PLANNER__BASE_URL=$(cat target/browser-model.url)
export CAIRN_PLANNER__MODEL=stub-model CAIRN_PLANNER__API_KEY=sk-test

source tests/serve.sh
start_server dashboard
key_b=$(target/debug/cairn --data-dir "$data" tenant create dashboard-b | grep -o 'cairn_[0-9a-f]*' | head -1)
[ -n "$key_b" ] || { echo "could not create the second tenant"; exit 1; }

rm -rf target/dashboard-screenshots
CAIRN_URL="$url" CAIRN_KEY="$key" CAIRN_KEY_B="$key_b" SCREENSHOTS=target/dashboard-screenshots \
    node --test --test-concurrency=1 tests/browser/
echo "screenshots: $(ls target/dashboard-screenshots | tr '\n' ' ')"
