# shellcheck shell=bash
# `ops/portal cluster`: several web hosts and several worker hosts on one PostgreSQL behind HAProxy, all on
# loopback, with the demo backends of `ops/portal up`. Sourced by ops/portal after its own helpers (it uses
# install_packages, start_backends, ensure_portal_database, ensure_key_certificate, first_run_port, harden_backend).
# See docs/operations.md, "Several hosts".

# shellcheck source=ops/lib/haproxy.sh
source "$(dirname "${BASH_SOURCE[0]}")/haproxy.sh"

# Process groups of the hosts and HAProxy (each started with setsid), by name.
declare -gA CLUSTER_PIDS=()
CLUSTER_PG=()
CLUSTER_BACKENDS=""

cluster_cleanup() {
  local name pid i alive
  for name in "${!CLUSTER_PIDS[@]}"; do
    pid=${CLUSTER_PIDS[$name]}
    kill -0 "$pid" 2>/dev/null && kill -TERM -- "-$pid" 2>/dev/null || true
  done
  # Hosts stop their job servers and circuits within a few seconds; whatever is left after 10 s is killed.
  for ((i = 0; i < 100; i++)); do
    alive=0
    for pid in "${CLUSTER_PIDS[@]}"; do
      kill -0 "$pid" 2>/dev/null && alive=1
    done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${CLUSTER_PIDS[@]}"; do
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  ((${#CLUSTER_PIDS[@]} == 0)) || say "stopped HAProxy and the hosts"
  CLUSTER_PIDS=()
  for dir in "${CLUSTER_PG[@]}"; do
    say "stopping PostgreSQL in $dir"
    pg_cluster_stop "$dir" || true
  done
  if [[ -n $CLUSTER_BACKENDS ]]; then
    say "stopping the backend servers"
    stop_backends "$CLUSTER_BACKENDS"
  fi
}

# cluster_start NAME LOG CMD... : starts CMD in a process group of its own, output to LOG.
cluster_start() {
  local name=$1 log=$2
  shift 2
  setsid "$@" >"$log" 2>&1 </dev/null &
  CLUSTER_PIDS[$name]=$!
}

# cluster_wait_port NAME PORT LOG : waits until the host NAME listens on PORT; fails (showing LOG) if it exits.
cluster_wait_port() {
  local name=$1 port=$2 log=$3 i
  for ((i = 0; i < 600; i++)); do
    pg_port_free "$port" || return 0
    if ! kill -0 "${CLUSTER_PIDS[$name]}" 2>/dev/null; then
      echo "$name exited before it listened on 127.0.0.1:$port; the end of $log:" >&2
      tail -n 30 "$log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "$name did not listen on 127.0.0.1:$port within 120 s; see $log" >&2
  return 1
}

cmd_cluster() {
  local webs=2 workers=2
  while (($#)); do
    case $1 in
      --web) webs=${2:?--web needs a number}; shift 2 ;;
      --workers) workers=${2:?--workers needs a number}; shift 2 ;;
      *) echo "cluster: unknown option $1 (use --web N --workers N)" >&2; exit 2 ;;
    esac
  done
  [[ $webs =~ ^[1-9][0-9]?$ && $workers =~ ^[0-9][0-9]?$ ]] || {
    echo "cluster: --web takes 1-99 and --workers 0-99" >&2
    exit 2
  }

  local data portal_pg backend_pg https_port http_port web_base worker_base port var conn i
  data=${PORTAL_DATA:-$ROOT/.data}
  mkdir -p "$data"
  data=$(cd "$data" && pwd)
  portal_pg=$data/portal-pg
  backend_pg=$data/backend-pg
  https_port=${PORTAL_PORT:-5443}
  http_port=${PORTAL_HTTP_PORT:-5080}
  web_base=${PORTAL_WEB_PORT:-5081}
  worker_base=${PORTAL_WORKER_PORT:-5091}
  local ports=("PORTAL_PORT:$https_port" "PORTAL_HTTP_PORT:$http_port")
  for ((i = 0; i < webs; i++)); do ports+=("PORTAL_WEB_PORT (web host $((i + 1))):$((web_base + i))"); done
  for ((i = 0; i < workers; i++)); do ports+=("PORTAL_WORKER_PORT (worker $((i + 1))):$((worker_base + i))"); done
  for var in "${ports[@]}"; do
    port=${var##*:}
    if ! pg_port_free "$port"; then
      echo "127.0.0.1:$port is taken$(who_listens "$port" | sed 's/^/ by /'): stop that process or set ${var%:*} to another port." >&2
      exit 1
    fi
  done

  install_packages postgresql ca haproxy "${BACKEND_KINDS[@]}"
  pg_ensure_installed
  dotnet tool restore

  trap cluster_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  say "starting PostgreSQL for the portal ($portal_pg)"
  CLUSTER_PG+=("$portal_pg")
  pg_cluster_start "$portal_pg" "$(first_run_port "$portal_pg" "${PORTAL_DB_PORT:-55432}")"
  say "starting the demo PostgreSQL backend ($backend_pg)"
  CLUSTER_PG+=("$backend_pg")
  pg_cluster_start "$backend_pg" "$(first_run_port "$backend_pg" "${PORTAL_BACKEND_PORT:-55433}")"
  harden_backend "$backend_pg"
  ca_ensure "$data/ca"
  export PORTAL_CA_DIR=$data/ca
  pg_enable_tls "$backend_pg" "$data/ca"
  CLUSTER_BACKENDS=$data
  # The demo Prometheus scrapes every web and worker host directly (behind HAProxy it would see one host at a time).
  local scrape_urls=()
  for ((i = 0; i < webs; i++)); do scrape_urls+=("http://127.0.0.1:$((web_base + i))"); done
  for ((i = 0; i < workers; i++)); do scrape_urls+=("http://127.0.0.1:$((worker_base + i))"); done
  configure_portal_scrape "$data" "${scrape_urls[@]}"
  start_backends "$data"
  ensure_portal_database "$portal_pg"
  # Every host reads the secrets, so every host gets the certificate that encrypts the key ring (one key ring, in
  # the database): a cookie or secret protected on one host is read on the others.
  ensure_key_certificate "$data"
  export DataProtection__CertificatePath="$data/keys/dataprotection.pfx"
  DataProtection__CertificatePassword=$(<"$data/keys/dataprotection.password")
  export DataProtection__CertificatePassword
  conn="Host=127.0.0.1;Port=$(<"$portal_pg/port");Database=portal;Username=portal;Password=$(<"$portal_pg/portal.password")"
  local issuer="https://127.0.0.1:$https_port/"

  say "building"
  dotnet build "$SOLUTION" -c Release -v q -nologo

  say "migrating the portal database"
  local kind demo_backends=()
  for kind in "${BACKEND_KINDS[@]}"; do
    demo_backends+=("Demo__Backends__$kind=$(<"$data/$kind/endpoint")")
  done
  env ConnectionStrings__Portal="$conn" \
    "${demo_backends[@]}" \
    Demo__Enabled=true \
    Demo__PostgresBackend__Host=127.0.0.1 \
    Demo__PostgresBackend__Port="$(<"$backend_pg/port")" \
    Demo__PostgresBackend__AdminUser=postgres \
    Demo__PostgresBackend__AdminPassword="$(<"$backend_pg/password")" \
    Demo__PostgresBackend__Tls=true \
    Demo__AdminPasswordFile="$data/admin-password.txt" \
    Demo__Backends__oidc="Host=127.0.0.1;Port=$https_port;AdminUser=portal;AdminPassword=none;issuer=$issuer" \
    dotnet run --project "$MIGRATIONS_PROJECT" -c Release --no-build

  local run=$data/cluster
  mkdir -p "$run"
  # What every host shares: the database, the platform CA, the issuer that tokens and bindings name.
  local common=(
    ConnectionStrings__Portal="$conn"
    Auth__Issuer="$issuer"
    Ca__CertificateFile="$data/ca/ca.crt"
    Ca__KeyFile="$data/ca/ca.key"
    ASPNETCORE_ENVIRONMENT="${ASPNETCORE_ENVIRONMENT:-Production}"
    DOTNET_ENVIRONMENT="${ASPNETCORE_ENVIRONMENT:-Production}"
  )
  local worker_dll=src/Portal.Worker/bin/Release/net10.0/Portal.Worker.dll
  local web_dll=$WEB_PROJECT/bin/Release/net10.0/Portal.Web.dll

  for ((i = 1; i <= workers; i++)); do
    say "starting worker $i ($run/worker-$i.log)"
    # Urls: the worker's own health endpoints (/healthz/live, /healthz/ready).
    cluster_start "worker-$i" "$run/worker-$i.log" env "${common[@]}" \
      Urls="http://127.0.0.1:$((worker_base + i - 1))" \
      dotnet "$worker_dll"
  done

  local web_ports=()
  for ((i = 1; i <= webs; i++)); do
    port=$((web_base + i - 1))
    web_ports+=("$port")
    say "starting web host $i on 127.0.0.1:$port ($run/web-$i.log)"
    # Jobs:RunServer=false: the workers run the jobs. KnownProxies: forwarded headers from HAProxy only.
    # Auth:RequireHttps stays as appsettings.json says: each host serves plain HTTP on loopback behind HAProxy.
    cluster_start "web-$i" "$run/web-$i.log" env "${common[@]}" \
      ASPNETCORE_URLS="http://127.0.0.1:$port" \
      Jobs__RunServer=false \
      ForwardedHeaders__KnownProxies__0=127.0.0.1 \
      dotnet "$web_dll"
  done
  for ((i = 1; i <= webs; i++)); do
    cluster_wait_port "web-$i" "${web_ports[$((i - 1))]}" "$run/web-$i.log"
  done

  say "starting HAProxy on https://127.0.0.1:$https_port ($run/haproxy.log)"
  haproxy_pem "$data/ca" "$run/haproxy"
  haproxy_config "$https_port" "$http_port" "$run/haproxy.pem" "${web_ports[@]}" >"$run/haproxy.cfg"
  haproxy_check "$run/haproxy.cfg"
  cluster_start haproxy "$run/haproxy.log" haproxy -db -W -f "$run/haproxy.cfg"
  cluster_wait_port haproxy "$https_port" "$run/haproxy.log"

  echo
  echo "Portal is running at https://127.0.0.1:$https_port  ($webs web hosts, $workers workers behind HAProxy; Ctrl-C stops it)"
  echo "Trust the platform CA to open it without a warning: $data/ca/ca.crt (curl --cacert $data/ca/ca.crt ...)"
  echo "Admin password: see the migrator output above or $data/admin-password.txt"
  echo "Logs: $run/{web-N,worker-N,haproxy}.log"
  echo

  # Runs until Ctrl-C. A host that dies is reported and HAProxy keeps serving from the others; when HAProxy or
  # the last web host is gone, everything stops.
  local name reported=()
  while kill -0 "${CLUSTER_PIDS[haproxy]}" 2>/dev/null; do
    wait -n 2>/dev/null || true
    local live_webs=0
    for name in "${!CLUSTER_PIDS[@]}"; do
      if kill -0 "${CLUSTER_PIDS[$name]}" 2>/dev/null; then
        [[ $name != web-* ]] || live_webs=$((live_webs + 1))
      elif [[ " ${reported[*]} " != *" $name "* ]]; then
        reported+=("$name")
        say "$name (pid ${CLUSTER_PIDS[$name]}) exited; see $run/$name.log"
      fi
    done
    ((live_webs > 0)) || break
    sleep 0.5
  done
  exit 1
}
