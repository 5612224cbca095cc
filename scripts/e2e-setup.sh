#!/usr/bin/env bash
# Prepares the real-kernel end-to-end harness (test/e2e/harness) on a Debian 12 host:
#   1. installs the Debian packages the host and the guest need, only those missing
#      (the guest's root filesystem IS the host's, so guest tools are host packages);
#      a temporary policy-rc.d keeps apt from starting daemons on the host;
#   2. fetches Debian's stock kernel (linux-image-<abi>-amd64) with `apt-get download`
#      and unpacks it into the cache; the host's /boot and /lib/modules are not touched;
#   3. builds a small busybox initramfs holding test/e2e/initramfs-init and the modules
#      needed before the guest can reach its root filesystem (9p, overlay) plus nvme-tcp
#      and nvmet-tcp.
# Idempotent and quick once done (it is run before every harness boot). Writes
# $STAS_E2E_CACHE/current.env for the harness. Needs root. Fails with exit 1 and a
# message on stderr.
#
#   scripts/e2e-setup.sh [--refresh]     --refresh: resolve the newest kernel ABI again
# Environment: STAS_E2E_CACHE (default /var/cache/stas-e2e),
#              STAS_E2E_KERNEL_PKG (pin a package, e.g. linux-image-6.1.0-37-amd64).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${STAS_E2E_CACHE:-/var/cache/stas-e2e}
INIT_SRC=$ROOT/test/e2e/initramfs-init
PKGS=(qemu-system-x86 busybox-static nvme-cli kmod udev dbus avahi-daemon avahi-utils
      bash-builtins iproute2 procps util-linux coreutils xz-utils zstd)
# Loaded by the initramfs: the first four reach the root filesystem, the rest are what
# every e2e suite needs (the host and target NVMe/TCP stacks).
INITRD_MODULES=(virtio_pci 9pnet_virtio 9p overlay configfs nvme-tcp nvmet-tcp)

say() { echo "e2e-setup: $*" >&2; }
die() { say "error: $*"; exit 1; }

[[ $(id -u) == 0 ]] || die "must run as root (apt-get, $CACHE, qemu's 9p export of /)"
[[ -f $INIT_SRC ]] || die "missing $INIT_SRC"
refresh=0
[[ ${1:-} == --refresh ]] && refresh=1

mkdir -p "$CACHE/deb"
exec 8>"$CACHE/.lock"
flock 8

install_missing_packages() {
    local missing=() p
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    say "installing ${missing[*]}"
    local policy=/usr/sbin/policy-rc.d own_policy=0 rc=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
        trap 'exit 130' INT TERM HUP
    fi
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
        >"$CACHE/apt.log" 2>&1 || rc=$?
    if ((own_policy)); then rm -f "$policy"; trap - EXIT INT TERM HUP; fi
    ((rc == 0)) || { tail -n 30 "$CACHE/apt.log" >&2; die "apt-get install failed (log: $CACHE/apt.log)"; }
}

# linux-image-amd64 is a meta package; its Depends names the ABI package.
resolve_kernel_package() {
    if [[ -n ${STAS_E2E_KERNEL_PKG:-} ]]; then echo "$STAS_E2E_KERNEL_PKG"; return; fi
    if ((!refresh)) && [[ -s $CACHE/kernel.pkg ]]; then cat "$CACHE/kernel.pkg"; return; fi
    local pkg try
    for try in 1 2; do
        pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
            awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
        [[ -n $pkg || $try == 2 ]] && break
        apt-get update -qq >&2 || true
    done
    [[ -n $pkg ]] || die "cannot resolve linux-image-amd64 (set STAS_E2E_KERNEL_PKG)"
    echo "$pkg" >"$CACHE/kernel.pkg"
    echo "$pkg"
}

unpack_kernel() { # PKG KVER -> $CACHE/KVER with boot/vmlinuz-KVER and lib/modules/KVER
    local pkg=$1 kver=$2 dir=$CACHE/$2 deb moddir
    [[ -f $dir/.complete ]] && return 0
    deb=$(ls "$CACHE/deb/${pkg}_"*.deb 2>/dev/null | tail -n 1 || true)
    if [[ -z $deb ]]; then
        say "downloading $pkg"
        (cd "$CACHE/deb" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) || die "apt-get download $pkg failed"
        deb=$(ls "$CACHE/deb/${pkg}_"*.deb | tail -n 1)
    fi
    say "unpacking $(basename "$deb")"
    rm -rf "$dir" "$dir.partial"
    dpkg -x "$deb" "$dir.partial" || die "dpkg -x $deb failed"
    moddir=$dir.partial/lib/modules/$kver
    if [[ ! -d $moddir && -d $dir.partial/usr/lib/modules/$kver ]]; then
        mkdir -p "$dir.partial/lib/modules"
        ln -s "../../usr/lib/modules/$kver" "$moddir"
    fi
    [[ -d $moddir ]] || die "no modules for $kver in $deb"
    # busybox insmod only takes plain .ko files
    find "$moddir/" -name '*.ko.xz' -print0 | xargs -0 -r xz -d
    find "$moddir/" -name '*.ko.zst' -print0 | xargs -0 -r zstd -q -d --rm
    depmod -b "$dir.partial" "$kver" || die "depmod failed"
    [[ -f $dir.partial/boot/vmlinuz-$kver ]] || die "no vmlinuz-$kver in $deb"
    mv "$dir.partial" "$dir"
    touch "$dir/.complete"
}

# The bzImage's payload is the compressed ELF vmlinux. QEMU boots that ELF directly
# through its PVH entry note, which skips the in-guest decompression (several
# seconds under TCG). Header fields (x86 boot protocol): setup_sects at 0x1f1,
# payload_offset/payload_length at 0x248/0x24c, relative to the protected-mode code.
extract_vmlinux() { # BZIMAGE OUT -> 0 if OUT is an ELF file
    local img=$1 out=$2 sects offset length magic
    sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$img" | tr -d ' ')
    ((sects == 0)) && sects=4
    offset=$(od -An -tu4 -j $((0x248)) -N4 "$img" | tr -d ' ')
    length=$(od -An -tu4 -j $((0x24c)) -N4 "$img" | tr -d ' ')
    payload() { tail -c +$(((sects + 1) * 512 + offset + 1)) "$img" | head -c "$length"; }
    magic=$(payload | head -c 4 | od -An -tx1 | tr -d ' \n')
    case $magic in
    fd377a58) payload | xz -dcq --single-stream >"$out.partial" 2>/dev/null ;;
    28b52ffd) payload | zstd -dcq >"$out.partial" 2>/dev/null ;;
    *) return 1 ;;
    esac
    [[ $(head -c 4 "$out.partial" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]] || { rm -f "$out.partial"; return 1; }
    mv "$out.partial" "$out"
}

ensure_vmlinux() { # KVER: $CACHE/KVER/vmlinux, or a marker saying the bzImage is used
    local dir=$CACHE/$1
    [[ -s $dir/vmlinux || -e $dir/.bzimage-only ]] && return 0
    grep -qx 'CONFIG_PVH=y' "$dir/boot/config-$1" && extract_vmlinux "$dir/boot/vmlinuz-$1" "$dir/vmlinux" && return 0
    say "cannot boot $1 through PVH; using the bzImage (slower)"
    touch "$dir/.bzimage-only"
}

build_initramfs() { # KVER OUT
    local kver=$1 out=$2 tmp m
    tmp=$(mktemp -d "$CACHE/initramfs.XXXXXX")
    mkdir -p "$tmp"/{bin,dev,proc,sys,ctl,lower,rw,newroot,modules}
    cp "$(command -v busybox)" "$tmp/bin/busybox"
    cp "$INIT_SRC" "$tmp/init"
    chmod 755 "$tmp/init"
    for m in "${INITRD_MODULES[@]}"; do
        modprobe -d "$CACHE/$kver" -S "$kver" --show-depends "$m" || die "module $m not found for $kver"
    done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r m; do
        cp "$m" "$tmp/modules/" && basename "$m" >>"$tmp/modules.list"
    done
    (cd "$tmp" && find . | busybox cpio -o -H newc 2>/dev/null) >"$out.partial"
    rm -rf "$tmp"
    [[ -s $out.partial ]] || die "initramfs build failed"
    mv "$out.partial" "$out"
}

install_missing_packages
pkg=$(resolve_kernel_package)
kver=${pkg#linux-image-}
unpack_kernel "$pkg" "$kver"
ensure_vmlinux "$kver"
hash=$( { cat "$INIT_SRC"; echo "${INITRD_MODULES[*]}"; } | sha256sum | cut -c1-12)
initrd=$CACHE/$kver/initramfs-$hash.cpio
if [[ ! -s $initrd ]]; then
    say "building initramfs for $kver"
    # older builds (a different initramfs-init); a guest booting right now already loaded its copy
    find "$CACHE/$kver" -maxdepth 1 -name 'initramfs-*.cpio' -mmin +10 -delete
    build_initramfs "$kver" "$initrd"
fi
cat >"$CACHE/current.env.partial" <<EOF
E2E_KVER=$kver
E2E_KERNEL=$(if [[ -s $CACHE/$kver/vmlinux ]]; then echo "$CACHE/$kver/vmlinux"; else echo "$CACHE/$kver/boot/vmlinuz-$kver"; fi)
E2E_INITRD=$initrd
E2E_MODDIR=$(readlink -f "$CACHE/$kver/lib/modules/$kver")
EOF
mv "$CACHE/current.env.partial" "$CACHE/current.env"
