# shellcheck shell=bash
# Private PostgreSQL clusters, each in a folder of its own (DIR):
#   DIR/data      the cluster            DIR/password  superuser password (mode 600)
#   DIR/port      TCP port, reused       DIR/log       server log
# Servers listen on 127.0.0.1 only. The system-wide Debian cluster (port 5432)
# is never touched or relied on.
#
# As root, the server runs as the `postgres` OS user (initdb/postgres refuse
# root), which must be able to reach DIR. When it cannot (a checkout under
# /root, say), the cluster is kept under $PG_RELOCATE_ROOT and DIR becomes a
# symlink to it. As any other user, the server runs as that user.

_PG_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ops/lib/apt.sh
source "$_PG_LIB_DIR/apt.sh"

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_RELOCATE_ROOT=${PG_RELOCATE_ROOT:-/var/lib/portal-pg}
PG_OS_USER=postgres

pg_ensure_installed() {
  [[ -x $PG_BIN/initdb ]] && return 0
  apt_ensure $(portal_packages postgresql)
  if [[ ! -x $PG_BIN/initdb ]]; then
    echo "pg.sh: $PG_BIN/initdb is missing after installing postgresql" >&2
    return 1
  fi
}

# Prints a random alphanumeric password (safe inside connection strings and SQL literals).
pg_gen_password() {
  head -c 48 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | cut -c1-32
}

# True when nothing accepts connections on 127.0.0.1:PORT.
pg_port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pg_free_port() {
  local i port
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    if pg_port_free "$port"; then
      echo "$port"
      return 0
    fi
  done
  echo "pg.sh: no free port found in 20000-59999" >&2
  return 1
}

# --- internals --------------------------------------------------------------

# Runs a PostgreSQL binary as the cluster owner. `cd /` because the caller's
# directory may be unreadable for postgres, which makes initdb/pg_ctl complain.
_pg_as_owner() {
  if ((EUID == 0)); then
    (cd / && runuser -u "$PG_OS_USER" -- "$@")
  else
    "$@"
  fi
}

_pg_own() {
  if ((EUID == 0)); then chown "$PG_OS_USER:$PG_OS_USER" "$@"; fi
}

_pg_real() {
  readlink -m -- "$1"
}

_pg_running() {
  local real
  real=$(_pg_real "$1")
  [[ -f $real/data/postmaster.pid ]] &&
    _pg_as_owner "$PG_BIN/pg_ctl" status -D "$real/data" >/dev/null 2>&1
}

# Creates DIR so that the cluster owner can use it (relocating it if needed).
_pg_prepare_dir() {
  local dir parent home
  dir=$(_pg_real "$1")
  parent=$(dirname "$dir")
  if [[ ! -e $dir ]] && ((EUID == 0)); then
    mkdir -p "$parent"
    if ! runuser -u "$PG_OS_USER" -- test -x "$parent"; then
      home="$PG_RELOCATE_ROOT/$(basename "$dir")-$(printf '%s' "$dir" | sha256sum | cut -c1-12)"
      mkdir -p "$home"
      chmod 711 "$PG_RELOCATE_ROOT"
      ln -s "$home" "$dir"
      echo "pg.sh: user $PG_OS_USER cannot reach $parent;" \
        "keeping the cluster in $home (symlinked from $dir)" >&2
    fi
  fi
  mkdir -p "$dir"
  dir=$(_pg_real "$dir")
  _pg_own "$dir"
  chmod 700 "$dir"
  if ((EUID == 0)) && ! runuser -u "$PG_OS_USER" -- test -w "$dir"; then
    echo "pg.sh: user $PG_OS_USER cannot write to $dir; make every parent" \
      "directory traversable (o+x) or choose another location" >&2
    return 1
  fi
}

_pg_locale() {
  if grep -qix 'c\.utf-\?8' <<<"$(locale -a 2>/dev/null)"; then echo C.UTF-8; else echo C; fi
}

_pg_init() {
  local dir=$1 throwaway=$2 real sock
  _pg_prepare_dir "$dir"
  real=$(_pg_real "$dir")
  if [[ ! -s $real/password ]]; then
    (umask 077 && pg_gen_password >"$real/password")
  fi
  chmod 600 "$real/password"
  _pg_own "$real/password" # initdb --pwfile reads it as the owner

  if ! _pg_as_owner "$PG_BIN/initdb" -D "$real/data" -U postgres \
    --auth=scram-sha-256 --pwfile="$real/password" \
    --encoding=UTF8 --locale="$(_pg_locale)" >"$real/initdb.log" 2>&1; then
    cat "$real/initdb.log" >&2
    return 1
  fi

  # A unix socket path must fit in 107 bytes; TCP is all we use, so drop it when too long.
  sock=$real
  ((${#real} + 17 <= 107)) || sock=""
  {
    echo "# --- added by ops/lib/pg.sh ---"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$sock'"
    echo "max_connections = 200"
    if [[ -n $throwaway ]]; then
      echo "# throwaway test cluster: durability is not needed"
      echo "fsync = off"
      echo "synchronous_commit = off"
      echo "full_page_writes = off"
    fi
  } >>"$real/data/postgresql.conf"
}

# --- public -----------------------------------------------------------------

# pg_cluster_start DIR [PORT] [throwaway]
# Creates the cluster on first use and starts it. An empty PORT reuses DIR/port,
# else picks a free port. A third argument (or PG_THROWAWAY=1) on first use makes
# it a throwaway test cluster (fsync etc. off).
pg_cluster_start() {
  local dir=$1 port=${2:-} throwaway=${3:-${PG_THROWAWAY:-}} real auto="" _
  [[ -d $dir/data ]] || _pg_init "$dir" "$throwaway"
  real=$(_pg_real "$dir")
  _pg_running "$real" && return 0

  if [[ -z $port ]]; then
    if [[ -s $real/port ]]; then port=$(<"$real/port"); else auto=1; fi
  fi
  # A picked port can be taken by someone else before we bind it: retry.
  for _ in 1 2 3; do
    [[ -z $auto ]] || port=$(pg_free_port)
    echo "$port" >"$real/port"
    if _pg_as_owner "$PG_BIN/pg_ctl" start -w -s -D "$real/data" \
      -l "$real/log" -o "-p $port" >/dev/null; then
      return 0
    fi
    [[ -n $auto ]] || break
  done
  echo "pg.sh: could not start the cluster in $dir (port $port); end of $real/log:" >&2
  tail -n 20 "$real/log" >&2 || true
  return 1
}

# pg_cluster_running DIR : true when the cluster of DIR is running.
pg_cluster_running() {
  [[ -d $1/data ]] && _pg_running "$(_pg_real "$1")"
}

pg_cluster_stop() {
  local real
  real=$(_pg_real "$1")
  _pg_running "$real" || return 0
  _pg_as_owner "$PG_BIN/pg_ctl" stop -m fast -w -s -D "$real/data" >/dev/null
}

# pg_conn DIR [DATABASE] : Npgsql connection string for the superuser.
pg_conn() {
  local dir=$1 db=${2:-postgres}
  printf 'Host=127.0.0.1;Port=%s;Username=postgres;Password=%s;Database=%s\n' \
    "$(<"$dir/port")" "$(<"$dir/password")" "$db"
}

# pg_psql DIR SQL [DATABASE] : runs SQL (psql meta-commands like \gexec allowed) as the superuser.
pg_psql() {
  local dir=$1 sql=$2 db=${3:-postgres}
  PGPASSWORD=$(<"$dir/password") PGCONNECT_TIMEOUT=10 "$PG_BIN/psql" \
    -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(<"$dir/port")" -U postgres -d "$db" <<<"$sql"
}

# The group role whose members sign in with a client certificate (CN = role name) instead of a password.
PG_CERT_LOGIN_ROLE=portal_cert_login

# pg_enable_tls DIR CA_DIR : serves the cluster over TLS with a server certificate from the platform CA
# (ops/lib/ca.sh), trusts that CA for client certificates, and rewrites pg_hba.conf so that members of
# $PG_CERT_LOGIN_ROLE authenticate with their certificate over TLS only, everybody else with SCRAM.
# Idempotent; the cluster must be running.
pg_enable_tls() {
  local dir=$1 ca=$2 real data f i
  real=$(_pg_real "$dir")
  data=$real/data
  # shellcheck source=ops/lib/ca.sh
  declare -F ca_issue_server >/dev/null || source "$_PG_LIB_DIR/ca.sh"
  mkdir -p "$real/tls"
  ca_issue_server "$ca" "$real/tls/server"
  # The server reads these as its own user and refuses a key others can read.
  install -m 644 "$real/tls/server.crt" "$data/portal-server.crt"
  install -m 600 "$real/tls/server.key" "$data/portal-server.key"
  install -m 644 "$ca/ca.crt" "$data/portal-ca.crt"
  _pg_own "$data/portal-server.crt" "$data/portal-server.key" "$data/portal-ca.crt"

  # First matching line wins: a certificate role never falls through to a password line (it has none anyway),
  # and a certificate is only accepted over TLS. `cert` checks the chain to ssl_ca_file and CN = role name.
  f=$data/pg_hba.conf
  {
    echo "# Written by ops/lib/pg.sh pg_enable_tls; first matching line wins."
    printf '%-8s %-12s %-20s %-14s %s\n' \
      '# TYPE' DATABASE USER ADDRESS METHOD \
      local all all '' scram-sha-256 \
      hostssl all "+$PG_CERT_LOGIN_ROLE" 127.0.0.1/32 cert \
      hostssl all all 127.0.0.1/32 scram-sha-256 \
      host all all 127.0.0.1/32 scram-sha-256 \
      local replication all '' scram-sha-256 \
      host replication all 127.0.0.1/32 scram-sha-256
  } >"$f.new"
  chmod 600 "$f.new"
  _pg_own "$f.new"
  mv "$f.new" "$f"

  pg_psql "$dir" "
SELECT 'CREATE ROLE $PG_CERT_LOGIN_ROLE NOLOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_CERT_LOGIN_ROLE') \gexec
ALTER SYSTEM SET ssl = on;
ALTER SYSTEM SET ssl_cert_file = 'portal-server.crt';
ALTER SYSTEM SET ssl_key_file = 'portal-server.key';
ALTER SYSTEM SET ssl_ca_file = 'portal-ca.crt';
ALTER SYSTEM SET ssl_min_protocol_version = 'TLSv1.2';
SELECT pg_reload_conf();
" >/dev/null

  # The reload is asynchronous, and a bad certificate only shows in the log: prove TLS with verification.
  for ((i = 0; i < 50; i++)); do
    if PGSSLMODE=verify-full PGSSLROOTCERT=$ca/ca.crt pg_psql "$dir" "SELECT 1" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  echo "pg.sh: the cluster in $dir does not serve TLS with the certificate from $ca; end of $real/log:" >&2
  tail -n 20 "$real/log" >&2 || true
  return 1
}

# pg_conn_tls DIR CA_DIR [DATABASE] : like pg_conn, over TLS that trusts the platform CA's certificate file.
pg_conn_tls() {
  printf '%s;SSL Mode=VerifyFull;Root Certificate=%s\n' "$(pg_conn "$1" "${3:-postgres}")" "$2/ca.crt"
}
