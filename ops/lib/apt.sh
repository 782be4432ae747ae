# shellcheck shell=bash
# Installs Debian packages on demand. Sourced by the other ops scripts.
# A second run finds everything installed and never calls apt-get.

_APT_UPDATED=${_APT_UPDATED:-}

# Runs a command as root (directly when we are root, else through sudo).
as_root() {
  if ((EUID == 0)); then "$@"; else sudo "$@"; fi
}

# True when the Debian package is fully installed (not just "config-files").
apt_installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

# apt_ensure PKG... : installs the packages that are missing.
apt_ensure() {
  local pkg missing=()
  for pkg in "$@"; do
    apt_installed "$pkg" || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0

  echo "==> installing Debian packages: ${missing[*]}" >&2
  if [[ -z $_APT_UPDATED ]]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    _APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}
