# shellcheck shell=bash
# The platform certificate authority on disk, for the servers the ops scripts start (demo and tests).
# The portal imports the same CA on its first start (Ca:CertificateFile, Ca:KeyFile), so the client
# certificates it issues are trusted by these servers and its bindings' ca.crt verifies them.
# Sourced by ops/portal and ops/backends/*; needs ops/lib/apt.sh.
#
# A CA directory holds ca.crt (public) and ca.key (600). The ops/backends scripts use TLS when
# PORTAL_CA_DIR names such a directory.

# ca_ensure DIR : creates the CA in DIR on first use (ECDSA P-256, 10 years).
ca_ensure() {
  local dir=$1
  [[ -s $dir/ca.crt && -s $dir/ca.key ]] && return 0
  apt_ensure openssl
  mkdir -p "$dir"
  (umask 077 && openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null |
    openssl pkcs8 -topk8 -nocrypt -out "$dir/ca.key")
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 -subj "/CN=Portal Platform CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:1" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$dir/ca.crt" 2>/dev/null
  chmod 644 "$dir/ca.crt"
}

# _ca_issue CA_DIR OUT_PREFIX CN EXT_USAGE [SAN] : writes OUT_PREFIX.crt and OUT_PREFIX.key (600).
_ca_issue() {
  local ca=$1 out=$2 cn=$3 usage=$4 san=${5:-} ext
  [[ -s $ca/ca.crt && -s $ca/ca.key ]] || {
    echo "ca.sh: no CA in $ca (ca_ensure first)" >&2
    return 1
  }
  apt_ensure openssl
  ext=$(mktemp)
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment,keyAgreement"
    echo "extendedKeyUsage=$usage"
    echo "subjectKeyIdentifier=hash"
    echo "authorityKeyIdentifier=keyid"
    [[ -z $san ]] || echo "subjectAltName=$san"
  } >"$ext"
  (umask 077 && openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null |
    openssl pkcs8 -topk8 -nocrypt -out "$out.key")
  openssl req -new -key "$out.key" -subj "/CN=$cn" 2>/dev/null |
    openssl x509 -req -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -CAcreateserial -CAserial "$out.srl" \
      -days 825 -sha256 -extfile "$ext" -out "$out.crt" 2>/dev/null
  rm -f "$ext" "$out.srl"
  chmod 600 "$out.key"
  chmod 644 "$out.crt"
}

# _ca_current CA_DIR OUT_PREFIX : true when OUT_PREFIX.crt/.key exist, chain to this CA and stay valid for
# 30 more days. Otherwise the caller issues a new pair, so a server restarted in its last month gets a fresh one.
_ca_current() {
  local ca=$1 out=$2
  [[ -s $out.crt && -s $out.key ]] &&
    openssl verify -CAfile "$ca/ca.crt" "$out.crt" >/dev/null 2>&1 &&
    openssl x509 -in "$out.crt" -noout -checkend $((30 * 24 * 3600)) >/dev/null 2>&1
}

# ca_issue_server CA_DIR OUT_PREFIX : a server certificate for 127.0.0.1 and localhost (re-issued when
# missing, issued by another CA or in its last 30 days).
ca_issue_server() {
  local ca=$1 out=$2
  if _ca_current "$ca" "$out"; then
    return 0
  fi
  _ca_issue "$ca" "$out" localhost serverAuth "IP:127.0.0.1,DNS:localhost"
}

# ca_issue_client CA_DIR OUT_PREFIX CN : a client certificate whose CN is a backend user (e.g. an admin).
ca_issue_client() {
  local ca=$1 out=$2 cn=$3
  if _ca_current "$ca" "$out"; then
    return 0
  fi
  _ca_issue "$ca" "$out" "$cn" clientAuth
}
