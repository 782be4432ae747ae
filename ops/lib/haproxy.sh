# shellcheck shell=bash
# HAProxy in front of several Portal web hosts: the configuration `ops/portal cluster` runs and the cluster test
# (tests/Portal.E2E/ClusterTests.cs) starts, written by one function so both use the same load balancer.
# Sourced, never run; needs ops/lib/apt.sh (and ops/lib/ca.sh for haproxy_pem).

# The path HAProxy asks each web host; a host that does not answer 200 gets no new sessions.
HAPROXY_HEALTH_PATH=${HAPROXY_HEALTH_PATH:-/healthz/ready}

# haproxy_pem CA_DIR OUT_PREFIX : a server certificate for 127.0.0.1/localhost from the platform CA, as the one
# PEM file (certificate, then key) HAProxy's `crt` wants: OUT_PREFIX.pem (600).
haproxy_pem() {
  local ca=$1 out=$2
  ca_issue_server "$ca" "$out"
  (umask 077 && cat "$out.crt" "$out.key" >"$out.pem.tmp")
  mv -f "$out.pem.tmp" "$out.pem"
}

# haproxy_config HTTPS_PORT HTTP_PORT PEM WEB_PORT... : prints a configuration that serves https://127.0.0.1:HTTPS_PORT
# with PEM, redirects http://127.0.0.1:HTTP_PORT there, and balances over the web hosts on 127.0.0.1:WEB_PORT...
haproxy_config() {
  local https_port=$1 http_port=$2 pem=$3 i=0 port
  shift 3
  cat <<EOF
# Written by ops/lib/haproxy.sh (haproxy_config); regenerated on every start.
global
    log stdout format raw local0 info
    maxconn 4096
    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets

defaults
    mode http
    log global
    option httplog
    option dontlognull
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 10s
    # A Blazor Server circuit is one long-lived WebSocket: once upgraded, only this timeout applies. Blazor pings
    # every 15 s, so an hour of silence means the browser is gone.
    timeout tunnel 1h
    timeout client-fin 5s
    # A request whose host is down (or refuses the connection) goes to another host instead of failing.
    retries 3
    option redispatch 1

frontend http
    bind 127.0.0.1:${http_port}
    # Plain HTTP only redirects, to the same host name on the HTTPS port.
    http-request redirect location https://%[req.hdr(host),field(1,:)]:${https_port}%[capture.req.uri] code 301

frontend https
    # HTTP/1.1 only: the web hosts speak it, and Blazor's WebSocket needs no HTTP/2 extended CONNECT then.
    bind 127.0.0.1:${https_port} ssl crt ${pem} alpn http/1.1
    # The web hosts trust these from this proxy only (ForwardedHeaders:KnownProxies): the client's address for the
    # sign-in limits and audit, and the scheme for redirects and Secure cookies. A client's own copy is dropped.
    http-request del-header X-Forwarded-For
    http-request del-header X-Forwarded-Host
    http-request set-header X-Forwarded-Proto https
    option forwardfor
    # A web host that does not (yet) honour X-Forwarded-Proto builds http:// redirects to itself; send them to https.
    http-response replace-header Location ^http://([^/]*)(.*)$ https://\1\2
    default_backend web

backend web
    balance roundrobin
    # Sticky sessions: a Blazor Server circuit lives in the memory of the host that made it, and its reconnects,
    # and the negotiate request before the WebSocket, must reach that host. The cookie names the host; when that host
    # is down, redispatch picks another and the cookie follows (the browser then starts a new circuit there).
    cookie PORTAL_HOST insert indirect nocache httponly secure attr "SameSite=Lax"
    option httpchk
    http-check send meth GET uri ${HAPROXY_HEALTH_PATH} ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    # A host's first answer after its start can take a few seconds (JIT, first database connection).
    timeout check 5s
    default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
EOF
  for port in "$@"; do
    i=$((i + 1))
    echo "    server web${i} 127.0.0.1:${port} check cookie web${i}"
  done
}

# haproxy_check CONFIG : fails with HAProxy's own message when the configuration is invalid.
haproxy_check() {
  haproxy -c -q -f "$1"
}
