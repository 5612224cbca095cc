#!/usr/bin/env bash
# Installs what stas needs to build and test on a fresh Debian 12 machine:
# Debian packages (only those missing) and the npm workspace (npm ci).
# Idempotent; safe to run on every `make`. Needs root for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages used by the test suites (real dbus-daemon, avahi, netns,
# gdbus/busctl). Daemons are not started on the host: policy-rc.d blocks it.
DEBS=(dbus dbus-daemon avahi-daemon avahi-utils iproute2 libglib2.0-bin)
[ -n "${STAS_EXTRA_DEBS:-}" ] && read -r -a extra <<<"$STAS_EXTRA_DEBS" && DEBS+=("${extra[@]}")

missing=()
for pkg in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  policy=/usr/sbin/policy-rc.d
  created_policy=no
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=yes
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$created_policy" = yes ] && rm -f "$policy"
fi

# npm: reinstall only when the lock file changed since the last install.
stamp=node_modules/.stas-install-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
