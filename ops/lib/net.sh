# shellcheck shell=bash
# Ports, secrets and process helpers shared by ops/portal and ops/backends/*. Sourced, never run.

# True when nothing accepts connections on 127.0.0.1:PORT.
port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port_block N : prints the first port of N consecutive free loopback ports in 23000-29999.
# Runs can still race for a port: a server that fails to bind should be retried on another block.
free_port_block() {
  local n=${1:-1} i base p ok
  for ((i = 0; i < 200; i++)); do
    base=$((23000 + (RANDOM * 32768 + RANDOM) % (7000 - n)))
    ok=1
    for ((p = base; p < base + n; p++)); do
      port_free "$p" || { ok=0; break; }
    done
    if ((ok)); then
      echo "$base"
      return 0
    fi
  done
  echo "net.sh: no block of $n free ports found in 23000-29999" >&2
  return 1
}

# Prints a random alphanumeric secret (safe in URIs, config files and connection strings).
gen_secret() {
  head -c 48 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | cut -c1-32
}

# pid_alive FILE : true when FILE names a running process.
pid_alive() {
  [[ -s $1 ]] && kill -0 "$(<"$1")" 2>/dev/null
}

# stop_pid FILE [SECONDS] : SIGTERM the process named in FILE, SIGKILL after SECONDS (10), remove FILE.
stop_pid() {
  local file=$1 wait=${2:-10} pid i
  [[ -s $file ]] || return 0
  pid=$(<"$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < wait * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

# wait_until SECONDS CMD... : retries CMD every 0.2 s until it succeeds; fails after SECONDS.
wait_until() {
  local seconds=$1 i
  shift
  for ((i = 0; i < seconds * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}
