#!/usr/bin/env bash
# Rows per second written to the history by `twinc run`: the pump example's
# telemetry replayed through a fleet of N pumps (default 100), once into
# SQLite and once into a throwaway local PostgreSQL, then once with the
# history off (the run's own cost). Prints the rows of each table and the
# rates. Needs a release build (`cargo build --release`) and PostgreSQL's
# binaries (/usr/lib/postgresql/*/bin); as root, the server runs as the
# `postgres` user. Usage: tests/benches/history_sink.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-100}
twinc=${TWINC:-${CARGO_TARGET_DIR:-target}/release/twinc}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /tmp/twin-history-bench.XXXXXX)
chmod 755 "$work"
as_pg=()
if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u postgres --); chown postgres "$work"; fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$bin/initdb" -A trust -U postgres -E UTF8 --locale=C -D "$work/data" > /dev/null
"${as_pg[@]}" "$bin/pg_ctl" -D "$work/data" -l "$work/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $work" start > /dev/null
trap '"${as_pg[@]}" "$bin/pg_ctl" -D "$work/data" -m fast -w stop > /dev/null; rm -rf "$work"' EXIT

ids=$(seq 1 "$n" | sed 's/.*/"pump-&"/' | paste -sd, -)
deploy() { # name history
    mkdir -p "$work/$1"
    cp examples/pump/pump.twin examples/pump/telemetry.csv "$work/$1/"
    sed -e "s|^history = .*|history = \"$2\"|" -e "s|^ids = .*|ids = [$ids]|" \
        examples/pump/twin.toml > "$work/$1/twin.toml"
}
deploy sqlite "sqlite:pump.db"
deploy postgres "postgres://postgres@127.0.0.1:$port/postgres"
deploy off "off"

rows() { # name
    local total=0
    for t in signals samples alarms commands rejected; do
        total=$((total + $("$twinc" history "$work/$1/twin.toml" --table "$t" | tail -n +2 | wc -l)))
    done
    echo "$total"
}
seconds() { # name
    local start end
    start=$(date +%s.%N)
    "$twinc" run "$work/$1/twin.toml" > /dev/null 2> "$work/$1.log"
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}
off=$(seconds off)
for sink in sqlite postgres; do
    s=$(seconds "$sink")
    r=$(rows "$sink")
    printf '%-8s %8d rows in %6.2f s: %8.0f rows/s (run alone, history off: %.2f s)\n' \
        "$sink" "$r" "$s" "$(echo "$r / $s" | bc -l)" "$off"
done
