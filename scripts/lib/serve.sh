# Shared by the end-to-end scripts (source it): a free loopback port, and a
# wait until a replyguard started on it answers.

# Prints a free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_ready PORT PATH: waits up to 30 s for http://127.0.0.1:PORT/PATH to answer 2xx.
wait_ready() {
  python3 - "$1" "$2" <<'PY'
import sys, time, urllib.request
for _ in range(300):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}{sys.argv[2]}", timeout=1)
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit("replyguard did not start")
PY
}

# scratch_space NAME: sets $work (a temporary folder) and $scratch (the name of
# a scratch PostgreSQL database on $pg_url's server, for the caller to create),
# and on exit stops the server whose pid is in $server, drops the database and
# removes the folder.
scratch_space() {
  work=$(mktemp -d)
  scratch="$1_$$"
  server=""
  trap scratch_cleanup EXIT
}

scratch_cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  psql "$pg_url" -qc "DROP DATABASE IF EXISTS $scratch" >/dev/null 2>&1 || true
  rm -rf "$work"
}
