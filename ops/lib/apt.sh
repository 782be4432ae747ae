# shellcheck shell=bash
# Installs Debian packages on demand. Sourced by the other ops scripts.
# A second run finds everything installed and never calls apt-get. Several processes may call
# apt_ensure at once (ops/portal starts the backend scripts in parallel): they take turns on one lock
# file, and each re-checks what is missing once it holds the lock, so only the first one installs.

# The lock our own scripts queue on. apt's own locks (/var/lib/apt/lists/lock, /var/lib/dpkg/lock-frontend)
# fail at once when held; ours waits. A foreign apt-get (unattended-upgrades) is waited for by
# DPkg::Lock::Timeout below.
APT_LOCK_FILE=${PORTAL_APT_LOCK:-/tmp/portal-apt.lock}
APT_LOCK_SECONDS=${PORTAL_APT_LOCK_SECONDS:-1800}
# Package lists younger than this are not fetched again.
APT_LISTS_MAX_AGE_MINUTES=${PORTAL_APT_LISTS_MAX_AGE_MINUTES:-360}

# Runs a command as root (directly when we are root, else through sudo).
as_root() {
  if ((EUID == 0)); then "$@"; else sudo "$@"; fi
}

# True when the Debian package is fully installed (not just "config-files").
apt_installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

# apt_missing PKG... : prints the packages that are not installed, one per line.
apt_missing() {
  local pkg
  for pkg in "$@"; do
    apt_installed "$pkg" || echo "$pkg"
  done
}

# True when `apt-get update` ran recently enough (the lists have an InRelease or Release newer than the limit).
_apt_lists_fresh() {
  [[ -n $(find /var/lib/apt/lists -maxdepth 1 -name '*Release' -mmin "-$APT_LISTS_MAX_AGE_MINUTES" -print -quit 2>/dev/null) ]]
}

# apt_ensure PKG... : installs the packages that are missing; waits its turn behind other installs.
apt_ensure() {
  local missing
  missing=$(apt_missing "$@")
  [[ -n $missing ]] || return 0
  (
    exec {lock}>>"$APT_LOCK_FILE"
    chmod 666 "$APT_LOCK_FILE" 2>/dev/null || true
    if ! flock -w "$APT_LOCK_SECONDS" "$lock"; then
      echo "apt.sh: waited ${APT_LOCK_SECONDS}s for $APT_LOCK_FILE (another package install); giving up" >&2
      exit 1
    fi
    # Whoever held the lock before us may have installed them.
    missing=$(apt_missing "$@")
    [[ -n $missing ]] || exit 0
    # shellcheck disable=SC2086 # one word per package
    echo "==> installing Debian packages:" $missing >&2
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600)
    if ! _apt_lists_fresh; then
      as_root "${apt[@]}" update
    fi
    # shellcheck disable=SC2086
    if ! as_root "${apt[@]}" install -y --no-install-recommends $missing; then
      # Lists fresh by age can still name versions the mirror no longer has: fetch them and try once more.
      as_root "${apt[@]}" update
      # shellcheck disable=SC2086
      as_root "${apt[@]}" install -y --no-install-recommends $missing
    fi
  )
}

# shellcheck source=ops/lib/packages.sh
source "$(dirname "${BASH_SOURCE[0]}")/packages.sh"
