# Sourced by the scripted test suites: starts the real `cairn serve` on
# 127.0.0.1:0 over a fresh data directory, sets `url` and `key` (the default
# tenant's API key), and stops the server and removes its files on exit (then
# runs the caller's $on_exit, if it set one).
# Compiled plugins are kept in target/$1-compiled between runs. With
# CAIRN_TEST_POSTGRES (a superuser URL), the server runs on a fresh database
# of that PostgreSQL server.
start_server() {
    local cache="$PWD/target/$1-compiled"
    cargo build --quiet --locked --bin cairn
    if [ -n "${CAIRN_TEST_POSTGRES:-}" ]; then
        local name="cairn_$1_$$" psql
        psql=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | sort -V | tail -1)
        "$psql" -q "$CAIRN_TEST_POSTGRES" -c "CREATE DATABASE $name"
        export CAIRN_DATABASE="${CAIRN_TEST_POSTGRES%/*}/$name"
        echo "on PostgreSQL: $CAIRN_DATABASE"
    fi
    data=$(mktemp -d)
    out="$data.out"
    CAIRN_DATA_DIR="$data" CAIRN_CACHE_DIR="$cache" \
        target/debug/cairn serve --listen 127.0.0.1:0 >"$out" 2>"$data.log" &
    server=$!
    trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data" "$out" "$data.log"; eval "${on_exit:-}"' EXIT

    url=""
    for _ in $(seq 1 600); do
        url=$(sed -n 's/^cairn listening on //p' "$out")
        [ -n "$url" ] && break
        kill -0 $server 2>/dev/null || { cat "$data.log"; exit 1; }
        sleep 0.2
    done
    [ -n "$url" ] || { echo "cairn serve did not start"; cat "$data.log"; exit 1; }
    key=$(cat "$data/default-api-key")
}
