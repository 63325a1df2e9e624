# Shared by run.sh and profile.sh (sourced after their arguments are read, from
# the repository's root): wrk (installed from Debian if missing), the release
# binary ($bin, built when empty), a scratch folder ($work) and the clean-up on
# exit of the server ($server) and of a throwaway PostgreSQL cluster.
. scripts/lib/serve.sh

command -v wrk >/dev/null 2>&1 || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
}
if [ -z "$bin" ]; then
  cargo build --release --locked --quiet --bin replyguard
  bin=target/release/replyguard
fi

work=$(mktemp -d)
chmod 755 "$work"
server=""
cluster=""
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  [ -n "$cluster" ] && su postgres -c "$pgbin/pg_ctl -D $cluster stop -m fast" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# Creates and starts a throwaway cluster (initdb as the postgres user, a free
# loopback port, removed on exit); sets $pg_url.
throwaway_cluster() {
  local pg_port
  cluster=$work/pg
  pg_port=$(free_port)
  mkdir -p "$cluster" "$work/sock" && chown postgres "$cluster" "$work/sock"
  su postgres -c "$pgbin/initdb -D $cluster -A trust -U postgres" >/dev/null
  su postgres -c "$pgbin/pg_ctl -D $cluster -l $work/sock/pg.log -w start \
    -o '-p $pg_port -k $work/sock -c listen_addresses=127.0.0.1 -c max_connections=200'" >/dev/null
  pg_url=postgres://postgres@127.0.0.1:$pg_port/postgres
}
