#!/usr/bin/env bash
# Installs or uninstalls stas (called by `make install` / `make uninstall`).
#
#   scripts/install.sh install|uninstall
#
# Honours DESTDIR (staging root) and PREFIX (default /usr), plus SYSCONFDIR
# (/etc), SYSTEMDDIR, DBUSDIR, SYSUSERSDIR. Installs the bundled executables
# (dist/bundle, built by `make bundle`) into $PREFIX/lib/stas with koffi beside
# them, links them from $PREFIX/bin, and installs the systemd units, the D-Bus
# policy and introspection files, the sysusers entry, the documentation and
# the default configuration files.
#
# Configuration files are the admin's: install never overwrites an existing
# one (the shipped version goes next to it as NAME.dist), and uninstall
# removes only those still identical to what was shipped.
set -euo pipefail
cd "$(dirname "$0")/.."

action=${1:?usage: install.sh install|uninstall}
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr}
SYSCONFDIR=${SYSCONFDIR:-/etc}
SYSTEMDDIR=${SYSTEMDDIR:-$PREFIX/lib/systemd/system}
DBUSDIR=${DBUSDIR:-$PREFIX/share/dbus-1}
SYSUSERSDIR=${SYSUSERSDIR:-$PREFIX/lib/sysusers.d}
BINDIR=$PREFIX/bin
LIBDIR=$PREFIX/lib/stas
DOCDIR=$PREFIX/share/doc/stas

TOOLS=(stafd stafctl stacd stacctl stasadm)
UNITS=(stafd.service stacd.service stas-config@.service stas-config.target)
CONFS=(sys.conf stafd.conf stacd.conf)

d() { printf '%s%s' "$DESTDIR" "$1"; }

install_units() {
  install -d "$(d "$SYSTEMDDIR")"
  for unit in "${UNITS[@]}"; do
    # Units name /usr/bin; point them at this PREFIX's bindir.
    sed "s|/usr/bin/st|$BINDIR/st|g" "systemd/$unit" >"$(d "$SYSTEMDDIR")/$unit"
    chmod 0644 "$(d "$SYSTEMDDIR")/$unit"
  done
}

do_install() {
  if [ ! -d dist/bundle ]; then
    echo "install.sh: dist/bundle is missing; run 'make bundle' first" >&2
    exit 1
  fi
  install -d "$(d "$BINDIR")" "$(d "$LIBDIR")" "$(d "$DOCDIR")" "$(d "$SYSCONFDIR")/stas" \
    "$(d "$DBUSDIR")/system.d" "$(d "$DBUSDIR")/interfaces" "$(d "$SYSUSERSDIR")"
  for tool in "${TOOLS[@]}"; do
    [ -f "dist/bundle/$tool.mjs" ] || continue
    install -m 0755 "dist/bundle/$tool.mjs" "$(d "$LIBDIR")/$tool.mjs"
    ln -sf "$LIBDIR/$tool.mjs" "$(d "$BINDIR")/$tool"
  done
  # The one native dependency, next to the bundles that import it: koffi and
  # its prebuilt native module for this platform (@koromix/koffi-<os>-<arch>).
  install -d "$(d "$LIBDIR")/node_modules/@koromix"
  cp -R node_modules/koffi "$(d "$LIBDIR")/node_modules/"
  for native in node_modules/@koromix/koffi-*; do
    [ -d "$native" ] && cp -R "$native" "$(d "$LIBDIR")/node_modules/@koromix/"
  done
  install_units
  install -m 0644 systemd/stas.sysusers "$(d "$SYSUSERSDIR")/stas.conf"
  for f in dbus/*.conf; do install -m 0644 "$f" "$(d "$DBUSDIR")/system.d/$(basename "$f")"; done
  for f in dbus/*.xml; do install -m 0644 "$f" "$(d "$DBUSDIR")/interfaces/$(basename "$f")"; done
  install -m 0644 README.md "$(d "$DOCDIR")/README.md"
  for conf in "${CONFS[@]}"; do
    target=$(d "$SYSCONFDIR")/stas/$conf
    if [ -e "$target" ]; then
      cmp -s "etc/stas/$conf" "$target" || install -m 0644 "etc/stas/$conf" "$target.dist"
    else
      install -m 0644 "etc/stas/$conf" "$target"
    fi
  done
}

do_uninstall() {
  for tool in "${TOOLS[@]}"; do rm -f "$(d "$BINDIR")/$tool"; done
  rm -rf "$(d "$LIBDIR")" "$(d "$DOCDIR")"
  for unit in "${UNITS[@]}"; do rm -f "$(d "$SYSTEMDDIR")/$unit"; done
  rm -f "$(d "$SYSUSERSDIR")/stas.conf"
  for f in dbus/*.conf; do rm -f "$(d "$DBUSDIR")/system.d/$(basename "$f")"; done
  for f in dbus/*.xml; do rm -f "$(d "$DBUSDIR")/interfaces/$(basename "$f")"; done
  for conf in "${CONFS[@]}"; do
    target=$(d "$SYSCONFDIR")/stas/$conf
    rm -f "$target.dist"
    if [ -e "$target" ] && cmp -s "etc/stas/$conf" "$target"; then rm -f "$target"; fi
  done
  # Remove the directories this created, if nothing else is left in them.
  for dir in "$SYSCONFDIR/stas" "$DBUSDIR/interfaces" "$DBUSDIR/system.d" "$DBUSDIR" "$SYSUSERSDIR" \
    "$SYSTEMDDIR" "$PREFIX/lib/systemd" "$PREFIX/share/doc" "$PREFIX/share" "$BINDIR" "$PREFIX/lib" \
    "$PREFIX" "$SYSCONFDIR"; do
    [ -n "$DESTDIR" ] || case "$dir" in /usr | /usr/* | /etc) continue ;; esac
    rmdir "$(d "$dir")" 2>/dev/null || true
  done
}

case "$action" in
  install) do_install ;;
  uninstall) do_uninstall ;;
  *) echo "usage: install.sh install|uninstall" >&2; exit 2 ;;
esac
