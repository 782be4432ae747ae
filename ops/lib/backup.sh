# shellcheck shell=bash
# Backup and restore of a portal: its database plus what decrypts the secrets in it. Sourced by ops/portal
# (backup, restore) and called by the tests with explicit paths and connection parameters.
#
# A backup folder holds:
#   portal.dump        pg_dump of the portal database, custom format (one consistent snapshot)
#   keys/              the Data Protection key ring certificate (dataprotection.pfx + .password, .crt):
#                      the key ring in the database is encrypted with it, and the key ring encrypts every
#                      stored secret. Without it the dump's secrets are lost.
#   ca/                the platform CA (ca.crt, ca.key) the demo's servers were issued certificates by
#   manifest.json      what, when, which versions, and every file's size and SHA-256
#   SHA256SUMS         the same checksums for `sha256sum -c`
# The folder is readable by its owner only: keys/ holds the certificate's password.

_BACKUP_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ops/lib/pg.sh
declare -F pg_cluster_start >/dev/null || source "$_BACKUP_LIB_DIR/pg.sh"

BACKUP_FORMAT=1
BACKUP_KEY_FILES=(dataprotection.pfx dataprotection.password dataprotection.crt)
BACKUP_CA_FILES=(ca.crt ca.key)

# _backup_empty DIR : true when DIR does not exist or holds nothing.
_backup_empty() {
  [[ ! -e $1 ]] || { [[ -d $1 ]] && [[ -z $(ls -A "$1") ]]; }
}

# _backup_pg HOST PORT USER PASSWORD COMMAND ARG... : runs a PostgreSQL client with those connection parameters.
_backup_pg() {
  local host=$1 port=$2 user=$3 password=$4 command=$5
  shift 5
  PGPASSWORD=$password PGCONNECT_TIMEOUT=10 "$PG_BIN/$command" -h "$host" -p "$port" -U "$user" "$@"
}

# _backup_json_string TEXT : TEXT as a JSON string (the values here are versions, names and dates).
_backup_json_string() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "${s//$'\n'/ }"
}

# _backup_certificate_fingerprint KEYS_DIR : SHA-256 fingerprint of the key ring certificate (empty if unreadable).
_backup_certificate_fingerprint() {
  openssl pkcs12 -in "$1/dataprotection.pfx" -passin "file:$1/dataprotection.password" -nokeys 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2
}

# backup_create DIR HOST PORT USER PASSWORD DATABASE KEYS_DIR CA_DIR
# Dumps DATABASE and copies the key ring certificate from KEYS_DIR and the CA from CA_DIR into DIR, which
# must be empty or absent. USER needs to read every table (the superuser, or the owner of the database).
backup_create() {
  local dir=$1 host=$2 port=$3 user=$4 password=$5 database=$6 keys=$7 ca=$8 f server migration portal_version first=1
  if ! _backup_empty "$dir"; then
    echo "backup.sh: $dir is not empty; choose a new folder (a backup never overwrites another)" >&2
    return 1
  fi
  if [[ ! -s $keys/dataprotection.pfx || ! -s $keys/dataprotection.password ]]; then
    echo "backup.sh: no key ring certificate in $keys (dataprotection.pfx and dataprotection.password):" \
      "without it the stored secrets cannot be decrypted after a restore" >&2
    return 1
  fi
  if [[ ! -s $ca/ca.crt || ! -s $ca/ca.key ]]; then
    echo "backup.sh: no platform CA in $ca (ca.crt and ca.key)" >&2
    return 1
  fi
  pg_ensure_installed
  apt_ensure openssl # sha256sum is coreutils; openssl only for the certificate's fingerprint below

  mkdir -p "$dir"
  chmod 700 "$dir"
  (
    umask 077
    # One snapshot (pg_dump runs in one repeatable-read transaction): the rows, the Hangfire schema, the key
    # ring table and the audit chain as of one moment, while the portal keeps running.
    _backup_pg "$host" "$port" "$user" "$password" pg_dump --format=custom --compress=6 \
      --file="$dir/portal.dump" "$database" || exit 1
    mkdir -p "$dir/keys" "$dir/ca"
    for f in "${BACKUP_KEY_FILES[@]}"; do
      [[ ! -e $keys/$f ]] || cp "$keys/$f" "$dir/keys/$f"
    done
    for f in "${BACKUP_CA_FILES[@]}"; do
      cp "$ca/$f" "$dir/ca/$f"
    done
  ) || {
    echo "backup.sh: the backup in $dir is incomplete; delete it" >&2
    return 1
  }

  server=$(_backup_pg "$host" "$port" "$user" "$password" psql -X -A -t -d "$database" -c "SHOW server_version") || return 1
  migration=$(_backup_pg "$host" "$port" "$user" "$password" psql -X -A -t -d "$database" \
    -c 'SELECT max("MigrationId") FROM "__EFMigrationsHistory"' 2>/dev/null) || migration=""
  portal_version=$(git -C "$_BACKUP_LIB_DIR" describe --always --dirty 2>/dev/null) || portal_version=unknown

  # The checksum list itself is written while find runs: leave it (and the manifest) out by name.
  (cd "$dir" && find . -type f ! -name 'SHA256SUMS*' ! -name manifest.json -printf '%P\0' | sort -z | xargs -0 sha256sum >SHA256SUMS.new &&
    mv SHA256SUMS.new SHA256SUMS)
  {
    printf '{\n  "format": %s,\n' "$BACKUP_FORMAT"
    printf '  "kind": "portal-backup",\n'
    printf '  "createdAt": %s,\n' "$(_backup_json_string "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
    printf '  "database": %s,\n' "$(_backup_json_string "$database")"
    printf '  "postgresqlServer": %s,\n' "$(_backup_json_string "$server")"
    printf '  "pgDump": %s,\n' "$(_backup_json_string "$("$PG_BIN/pg_dump" --version)")"
    printf '  "schemaMigration": %s,\n' "$(_backup_json_string "$migration")"
    printf '  "portalVersion": %s,\n' "$(_backup_json_string "$portal_version")"
    printf '  "keyRingCertificateSha256": %s,\n' "$(_backup_json_string "$(_backup_certificate_fingerprint "$dir/keys")")"
    printf '  "files": [\n'
    while read -r sum f; do
      ((first)) || printf ',\n'
      first=0
      printf '    {"path": %s, "bytes": %s, "sha256": "%s"}' "$(_backup_json_string "$f")" "$(stat -c %s "$dir/$f")" "$sum"
    done <"$dir/SHA256SUMS"
    printf '\n  ]\n}\n'
  } >"$dir/manifest.json"
  chmod 600 "$dir/manifest.json" "$dir/SHA256SUMS"
}

# backup_verify DIR : the backup is complete and every file matches its checksum.
backup_verify() {
  local dir=$1 f
  for f in manifest.json SHA256SUMS portal.dump keys/dataprotection.pfx keys/dataprotection.password ca/ca.crt ca/ca.key; do
    if [[ ! -s $dir/$f ]]; then
      echo "backup.sh: $dir/$f is missing: not a complete portal backup (keys/ and ca/ may be kept apart: put them back)" >&2
      return 1
    fi
  done
  if ! (cd "$dir" && sha256sum --quiet --strict -c SHA256SUMS >&2); then
    echo "backup.sh: $dir does not match its checksums (SHA256SUMS); refusing to restore it" >&2
    return 1
  fi
}

# backup_restore_database DIR HOST PORT USER PASSWORD DATABASE OWNER
# Restores the dump into DATABASE, which must exist and be empty; every object belongs to OWNER (the portal's
# login). USER must be able to SET ROLE OWNER (the superuser).
backup_restore_database() {
  local dir=$1 host=$2 port=$3 user=$4 password=$5 database=$6 owner=$7 objects
  objects=$(_backup_pg "$host" "$port" "$user" "$password" psql -X -A -t -d "$database" -c \
    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'") || return 1
  if ((objects > 0)); then
    echo "backup.sh: database $database on $host:$port is not empty ($objects relations); restore into an empty one" >&2
    return 1
  fi
  # Triggers come after the rows in a dump, so the audit chain is restored as written, not re-chained.
  _backup_pg "$host" "$port" "$user" "$password" pg_restore --exit-on-error --single-transaction \
    --no-owner --no-privileges --role="$owner" -d "$database" "$dir/portal.dump"
}

# backup_restore_files DIR KEYS_DIR CA_DIR : puts the key ring certificate and the CA back (mode 600, folders 700).
backup_restore_files() {
  local dir=$1 keys=$2 ca=$3 f
  mkdir -p "$keys" "$ca"
  chmod 700 "$keys"
  for f in "${BACKUP_KEY_FILES[@]}"; do
    [[ ! -e $dir/keys/$f ]] || install -m 600 "$dir/keys/$f" "$keys/$f"
  done
  for f in "${BACKUP_CA_FILES[@]}"; do
    install -m 600 "$dir/ca/$f" "$ca/$f"
  done
  chmod 644 "$ca/ca.crt"
}

# backup_restore DIR DATA [PORT]
# Brings a backup back into DATA, an empty (or absent) data folder of `ops/portal up`: a new PostgreSQL cluster in
# DATA/portal-pg (on PORT, or a free one) with the `portal` login and database, the dump restored into it, the key
# ring certificate in DATA/keys and the CA in DATA/ca. Leaves the cluster running.
backup_restore() {
  local dir=$1 data=$2 port=${3:-} cluster pw
  backup_verify "$dir" || return 1
  if ! _backup_empty "$data"; then
    echo "backup.sh: $data is not empty; restore into a new data folder (PORTAL_DATA=<new folder>)" >&2
    return 1
  fi
  pg_ensure_installed
  mkdir -p "$data"
  cluster=$data/portal-pg
  pg_cluster_start "$cluster" "$port" || return 1
  (umask 077 && pg_gen_password >"$cluster/portal.password")
  pw=$(<"$cluster/portal.password")
  pg_psql "$cluster" "CREATE ROLE portal LOGIN PASSWORD '$pw'; CREATE DATABASE portal OWNER portal;" || return 1
  backup_restore_database "$dir" 127.0.0.1 "$(<"$cluster/port")" postgres "$(<"$cluster/password")" portal portal || return 1
  backup_restore_files "$dir" "$data/keys" "$data/ca"
}
