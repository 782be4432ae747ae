# shellcheck shell=bash
# The Debian packages each part of the demo and the tests needs, in one place: the backend scripts
# install their own with `apt_ensure $(portal_packages KIND)`, and ops/portal installs the union of
# what a command needs in one step before it starts servers in parallel (and `doctor` reports them).

declare -gA PORTAL_PACKAGES=(
  [postgresql]="postgresql"
  [rabbitmq]="rabbitmq-server curl"
  [etcd]="etcd-server etcd-client curl"
  [redis]="redis-server redis-tools"
  [s3]="radosgw ceph-mon ceph-osd curl python3"
  [logging]="rsyslog rsyslog-openssl openssl"
  [monitoring]="prometheus prometheus-alertmanager apache2-utils curl"
  [ca]="openssl"
  [browser]="chromium fonts-liberation"
  [deploy]="systemd"
  [haproxy]="haproxy openssl"
)

# portal_packages PART... : the packages of those parts, one word each, without repeats.
portal_packages() {
  local part pkg
  declare -A seen=()
  for part in "$@"; do
    [[ -n ${PORTAL_PACKAGES[$part]+x} ]] || {
      echo "packages.sh: no package list for '$part'" >&2
      return 1
    }
    for pkg in ${PORTAL_PACKAGES[$part]}; do
      [[ -n ${seen[$pkg]+x} ]] || { seen[$pkg]=1; echo "$pkg"; }
    done
  done
}
