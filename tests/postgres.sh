# Sourced by .ci/test: a throwaway PostgreSQL cluster for the test suite.
# start_postgres installs the distribution's server when none is found,
# creates a cluster in a temporary directory as an unprivileged user, starts
# it on a free loopback port, and sets pg_url (the URL of a superuser
# connection the tests create their databases with: what CAIRN_TEST_POSTGRES
# takes); stop_postgres stops it and removes its files.
start_postgres() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    if [ -z "$bin" ]; then
        echo "installing PostgreSQL from the distribution's packages"
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo=sudo
        $sudo apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    fi
    # initdb refuses to run as root: the cluster belongs to an unprivileged user.
    local run_as=()
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        run_as=(runuser -u postgres --)
    fi
    pg_dir=$(mktemp -d /tmp/cairn-pg.XXXXXX)
    chmod 755 "$pg_dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$pg_dir"
    pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${run_as[@]}" "$bin/initdb" -D "$pg_dir/data" -U cairn --auth=trust -E UTF8 --no-sync >/dev/null
    "${run_as[@]}" "$bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
        -o "-h 127.0.0.1 -p $pg_port -k $pg_dir -c max_connections=400 -c fsync=on" start >/dev/null
    pg_bin=$bin
    pg_run_as=("${run_as[@]}")
    pg_url="postgres://cairn@127.0.0.1:$pg_port/postgres"
    echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port"
}

stop_postgres() {
    [ -n "${pg_dir:-}" ] || return 0
    "${pg_run_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
    pg_dir=""
}
