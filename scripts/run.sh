#!/usr/bin/env bash
# `make run`: stafd + stacd in the foreground, on embedded defaults when this
# system is not set up for them. Never writes outside its temporary directory
# (no /etc, no /run, no network configuration); Ctrl-C (SIGINT/SIGTERM) stops
# everything it started and removes that directory.
#
#   scripts/run.sh [--demo]
#
#   bus        the system bus when it is usable (socket present, our D-Bus
#              policies installed, names free); else a private dbus-daemon
#              (allow-all + dbus/*.conf) on a unix:path socket in the temp dir
#   config     the repository's etc/stas (copied to the temp dir)
#   identity   /etc/nvme/hostnqn + hostid when both exist; else a temporary
#              pair derived from /etc/machine-id by `stasadm hostnqn/hostid`
#   mDNS       stafd picks avahi when it is on the bus, else its embedded browser
#   kernel     /dev/nvme-fabrics when it exists; else stacd --dry-run (logs
#              each connect string it would write)
#   --demo     also a demo discovery controller (the DC simulator, 3 subsystems
#              on 127.0.0.1), found through a controller= line in the temp
#              stafd.conf; stacd always runs --dry-run in demo mode
#
# Environment (tests): STAS_RUN_PRIVATE_BUS=1 forces the private bus,
# STAS_RUN_DRY_RUN=1 forces stacd --dry-run, STAS_RUN_TEMP_IDENTITY=1 forces a
# temporary host identity, STAS_RUN_SETTLE_S (default 8) bounds the wait
# before the status report. Tested by test/integration/run-demo.test.ts.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" # the commands it prints are relative to the repository
DEMO=0
for arg in "$@"; do
  case $arg in
    --demo) DEMO=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "run.sh: unknown argument '$arg' (try --demo)" >&2
      exit 2
      ;;
  esac
done

NODE=${NODE:-node}
STAFD=packages/stafd/bin/stafd.js
STAFCTL=packages/stafd/bin/stafctl.js
STACD=packages/stacd/bin/stacd.js
STACCTL=packages/stacd/bin/stacctl.js
STASADM=packages/stasadm/bin/stasadm.js
DCSIM=packages/common/dist/testing/dc-sim/dc-sim-main.js
for f in "$DCSIM" packages/stafd/dist/main.js packages/stacd/dist/main.js packages/stasadm/dist/main.js; do
  [[ -e $f ]] || { echo "run.sh: $f is missing: run 'make build' first" >&2; exit 1; }
done

if [[ -t 1 ]]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD='' PLAIN=''; fi
say() { printf '%srun:%s %s\n' "$BOLD" "$PLAIN" "$*"; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/stas-run.XXXXXX")
chmod 755 "$TMP"
PIDS=() # started processes, stopped in reverse order

# shellcheck disable=SC2317 # called through the traps below
cleanup() {
  trap - INT TERM EXIT
  local i pid
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[i]}
    kill -TERM "$pid" 2>/dev/null || true
    # Wait up to 10 s for each, then kill it.
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
  say "stopped; removed $TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$TMP/etc/stas" "$TMP/run"
cp "$ROOT"/etc/stas/{sys,stafd,stacd}.conf "$TMP/etc/stas/"
export STAS_ETC_DIR="$TMP/etc/stas" STAS_RUN_DIR="$TMP/run"

# --- host identity -----------------------------------------------------------
if [[ ${STAS_RUN_TEMP_IDENTITY:-0} != 1 && -r /etc/nvme/hostnqn && -r /etc/nvme/hostid ]]; then
  say "host identity: /etc/nvme/hostnqn and /etc/nvme/hostid"
else
  mkdir -p "$TMP/nvme"
  export STAS_NVME_ETC_DIR="$TMP/nvme"
  "$NODE" "$STASADM" -c "$TMP/etc/stas/sys.conf" hostnqn -f "$TMP/nvme/hostnqn" >/dev/null
  "$NODE" "$STASADM" -c "$TMP/etc/stas/sys.conf" hostid -f "$TMP/nvme/hostid" >/dev/null
  say "host identity: temporary, derived from /etc/machine-id: $(cat "$TMP/nvme/hostnqn")"
fi

# --- D-Bus -------------------------------------------------------------------
SYSTEM_SOCKET=/run/dbus/system_bus_socket
system_bus_usable() {
  [[ ${STAS_RUN_PRIVATE_BUS:-0} != 1 && -S $SYSTEM_SOCKET ]] || return 1
  local name dir found
  for name in org.nvmexpress.staf org.nvmexpress.stac; do
    found=0
    for dir in /etc/dbus-1/system.d /usr/share/dbus-1/system.d /usr/local/share/dbus-1/system.d; do
      [[ -e $dir/$name.conf ]] && found=1
    done
    [[ $found == 1 ]] || return 1
    command -v dbus-send >/dev/null || return 1
    dbus-send --system --print-reply --dest=org.freedesktop.DBus / \
      org.freedesktop.DBus.NameHasOwner "string:$name" 2>/dev/null | grep -q 'boolean false' || return 1
  done
}
if system_bus_usable; then
  BUS="unix:path=$SYSTEM_SOCKET"
  say "D-Bus: the system bus ($SYSTEM_SOCKET)"
else
  cat >"$TMP/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$TMP/bus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
  <include ignore_missing="yes">$ROOT/dbus/org.nvmexpress.staf.conf</include>
  <include ignore_missing="yes">$ROOT/dbus/org.nvmexpress.stac.conf</include>
</busconfig>
EOF
  dbus-daemon --config-file="$TMP/bus.conf" --nofork --nopidfile --nosyslog \
    --print-address=1 >"$TMP/bus.address" 2>"$TMP/bus.log" &
  PIDS+=($!)
  for _ in $(seq 100); do [[ -s $TMP/bus.address ]] && break; sleep 0.05; done
  [[ -s $TMP/bus.address ]] || { echo "run.sh: dbus-daemon did not start: $(cat "$TMP/bus.log")" >&2; exit 1; }
  BUS="unix:path=$TMP/bus.sock"
  say "D-Bus: a private dbus-daemon at $BUS (the system bus is not usable for stas here)"
fi

# --- demo discovery controller -----------------------------------------------
if [[ $DEMO == 1 ]]; then
  cat >"$TMP/demo-entries.json" <<'EOF'
[
  { "traddr": "127.0.0.1", "trsvcid": "4420", "subnqn": "nqn.2014-08.org.example.stas:demo-1" },
  { "traddr": "127.0.0.1", "trsvcid": "4420", "subnqn": "nqn.2014-08.org.example.stas:demo-2" },
  { "traddr": "127.0.0.1", "trsvcid": "4420", "subnqn": "nqn.2014-08.org.example.stas:demo-3" }
]
EOF
  "$NODE" "$DCSIM" --host 127.0.0.1 --port 0 --entries "$TMP/demo-entries.json" >"$TMP/dc-sim.out" &
  PIDS+=($!)
  for _ in $(seq 100); do [[ -s $TMP/dc-sim.out ]] && break; sleep 0.05; done
  read -r _ _ DC_PORT <"$TMP/dc-sim.out" || { echo "run.sh: the DC simulator did not start" >&2; exit 1; }
  printf '\n[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=%s\n' "$DC_PORT" \
    >>"$TMP/etc/stas/stafd.conf"
  say "demo: DC simulator on 127.0.0.1:$DC_PORT with 3 subsystems (pid ${PIDS[-1]})"
  say "demo: not announced over mDNS (that would need avahi on the system bus); added as"
  say "      'controller = transport=tcp;traddr=127.0.0.1;trsvcid=$DC_PORT' in $TMP/etc/stas/stafd.conf"
fi

"$NODE" "$STASADM" check "$TMP"/etc/stas/{sys,stafd,stacd}.conf >/dev/null ||
  say "warning: stasadm check found problems in the configuration (see 'stasadm check')"

# --- daemons -----------------------------------------------------------------
STACD_ARGS=()
if [[ $DEMO == 1 || ${STAS_RUN_DRY_RUN:-0} == 1 || ! -e /dev/nvme-fabrics ]]; then
  STACD_ARGS+=(--dry-run)
  say "kernel: stacd --dry-run (logs each connect string instead of writing /dev/nvme-fabrics)"
else
  say "kernel: /dev/nvme-fabrics (stacd connects for real)"
fi

# Each daemon's log lines are prefixed with its name ($! is the daemon itself).
# The prefixer ignores Ctrl-C, so the daemons' last lines still get through;
# it ends when its daemon closes stderr.
prefix() { trap '' INT TERM; exec sed -u "s/^/$1  /" >&2; }
"$NODE" "$STAFD" --log-format text --bus-address "$BUS" 2> >(prefix stafd) &
PIDS+=($!)
STAFD_PID=$!
"$NODE" "$STACD" --log-format text --bus-address "$BUS" "${STACD_ARGS[@]}" 2> >(prefix stacd) &
PIDS+=($!)
STACD_PID=$!
say "pids: ${PIDS[*]} (stafd $STAFD_PID, stacd $STACD_PID); temp dir $TMP"

# --- where to look -----------------------------------------------------------
# Wait (at most STAS_RUN_SETTLE_S) until both answer and, in demo mode, until the
# demo DC's log page is in and stacd has a controller per entry.
settled() {
  "$NODE" "$STACCTL" --bus-address "$BUS" ls >/dev/null 2>&1 || return 1
  [[ $DEMO == 1 ]] || { "$NODE" "$STAFCTL" ls --bus-address "$BUS" >/dev/null 2>&1; return; }
  [[ $("$NODE" "$STAFCTL" adlp --json --bus-address "$BUS" 2>/dev/null | grep -o 'demo-[0-9]' | sort -u | wc -l) -ge 3 ]] || return 1
  [[ $("$NODE" "$STACCTL" --bus-address "$BUS" ls 2>/dev/null | grep -o 'demo-[0-9]' | sort -u | wc -l) -ge 3 ]]
}
deadline=$((SECONDS + ${STAS_RUN_SETTLE_S:-8}))
until settled || ((SECONDS >= deadline)); do sleep 0.3; done

show() {
  say "\$ $*"
  "$@" 2>&1 | sed 's/^/    /' || true
}
show "$NODE" "$STAFCTL" ls --bus-address "$BUS"
show "$NODE" "$STAFCTL" adlp --bus-address "$BUS"
show "$NODE" "$STACCTL" --bus-address "$BUS" ls
show "$NODE" "$STACCTL" --bus-address "$BUS" explain
say "running; more: stafctl status --bus-address $BUS, stacctl --bus-address $BUS status"
say "Ctrl-C stops stafd, stacd and everything else run.sh started."

# Run until a signal, or until a daemon exits by itself.
while kill -0 "$STAFD_PID" 2>/dev/null && kill -0 "$STACD_PID" 2>/dev/null; do
  wait -n "$STAFD_PID" "$STACD_PID" 2>/dev/null || true
done
say "a daemon exited by itself; stopping the rest"
exit 1
