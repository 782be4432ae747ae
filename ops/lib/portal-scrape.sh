# shellcheck shell=bash
# The demo Prometheus (ops/backends/monitoring) scrapes the portal's own /metrics. Sourced, never run.
#
# portal_scrape_configure MONITORING_DIR TOKEN_FILE URL... : writes MONITORING_DIR/extra-scrape-configs.yml, a scrape
#   job "portal" over the given host URLs (http:// or https://, one scheme for all; the path /metrics is added) with the
#   bearer token in TOKEN_FILE (made on first use, 600). The monitoring script puts the file's jobs in prometheus.yml on
#   its next start, and reloads a Prometheus that is already running.
# Env: PORTAL_SCRAPE_CA_FILE  the CA that signed the portal's HTTPS certificate (e.g. $data/ca/ca.crt); https only.
#      PORTAL_SCRAPE_INTERVAL (15s)
# The same token goes to the hosts as Metrics__ScrapeToken (portal_scrape_token TOKEN_FILE prints it).

# shellcheck source=ops/lib/net.sh
declare -F gen_secret >/dev/null || source "$(dirname "${BASH_SOURCE[0]}")/net.sh"

portal_scrape_configure() {
  local dir=$1 token_file=$2 url scheme="" targets="" host
  shift 2
  [[ -s $token_file ]] || (umask 077 && gen_secret >"$token_file")
  chmod 600 "$token_file"
  for url in "$@"; do
    [[ $url =~ ^(https?)://([^/]+)/?$ ]] || {
      echo "portal_scrape_configure: '$url' is not http(s)://host:port" >&2
      return 2
    }
    if [[ -n $scheme && $scheme != "${BASH_REMATCH[1]}" ]]; then
      echo "portal_scrape_configure: mixed http and https targets" >&2
      return 2
    fi
    scheme=${BASH_REMATCH[1]}
    host=${BASH_REMATCH[2]}
    targets+="${targets:+, }\"$host\""
  done
  mkdir -p "$dir"
  {
    printf '  # Written by ops/lib/portal-scrape.sh: the portal'"'"'s own metrics (web and worker hosts).\n'
    printf '  - job_name: portal\n'
    printf '    scrape_interval: %s\n' "${PORTAL_SCRAPE_INTERVAL:-15s}"
    printf '    metrics_path: /metrics\n'
    printf '    scheme: %s\n' "$scheme"
    printf '    authorization: {type: Bearer, credentials_file: "%s"}\n' "$token_file"
    if [[ $scheme == https && -n ${PORTAL_SCRAPE_CA_FILE:-} ]]; then
      printf '    tls_config: {ca_file: "%s"}\n' "$PORTAL_SCRAPE_CA_FILE"
    fi
    printf '    static_configs: [{targets: [%s]}]\n' "$targets"
  } >"$dir/extra-scrape-configs.yml.tmp"
  mv "$dir/extra-scrape-configs.yml.tmp" "$dir/extra-scrape-configs.yml"
}

# portal_scrape_token TOKEN_FILE : prints the scrape token.
portal_scrape_token() {
  cat "$1"
}
