#!/usr/bin/env bash
# Builds an Incus system-container image that runs pikaci jobs: busybox, a
# static bash, user `pikaci` (uid/gid 1000) and the given pikaci-incus-run at
# /run/current-system/sw/bin/pikaci-incus-run (with the C libraries it links
# against). It has no toolchain: jobs that build get one from a profile
# (docs/incus-testing.md shows how).
#
#   bash scripts/incus-container-image.sh OUT_DIR PATH/TO/pikaci-incus-run [DESCRIPTION]
#   incus image import --project P OUT_DIR/meta.tar.gz OUT_DIR/rootfs.tar.gz --alias pikaci/dev
#
# Needs root (the files must belong to root and to uid 1000), busybox-static
# and bash-static. Writes OUT_DIR/meta.tar.gz and OUT_DIR/rootfs.tar.gz.
set -euo pipefail

out=${1:?usage: incus-container-image.sh OUT_DIR GUEST_BINARY [DESCRIPTION]}
guest=${2:?usage: incus-container-image.sh OUT_DIR GUEST_BINARY [DESCRIPTION]}
description=${3:-pikaci jobs (busybox, bash, pikaci-incus-run)}
busybox=/bin/busybox
bash_static=/bin/bash-static

for f in "$busybox" "$bash_static" "$guest"; do
  [ -x "$f" ] || { echo "incus-container-image: $f is missing" >&2; exit 1; }
done
if [ "$(id -u)" -ne 0 ]; then
  echo "incus-container-image: run as root (the image's files belong to root and uid 1000)" >&2
  exit 1
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root" # mktemp's 0700 would become the image's `/`
mkdir -p "$out"

# A merged /usr like Debian's: /lib and /lib64 point into /usr, so a host's
# /usr mounted read-only over the image's (a toolchain for builds) brings its
# own libraries and loader along.
mkdir -p "$root"/{bin,sbin,etc,root,tmp,var/tmp,dev,proc,sys,home/pikaci} \
  "$root"/usr/{lib,lib64} "$root"/run/current-system/sw/bin \
  "$root"/workspace/snapshot "$root"/staged/linux-rust "$root"/artifacts
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"

cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
ln -s ../bin/busybox "$root/sbin/init"
cp "$bash_static" "$root/bin/bash"

install -m 0755 "$guest" "$root/run/current-system/sw/bin/pikaci-incus-run"
# The guest binary's shared libraries and loader, at their paths under /usr.
for lib in $(ldd "$guest" | grep -o '/[^ ]*'); do
  rel=${lib#/usr}
  mkdir -p "$root/usr$(dirname "$rel")"
  cp -L "$lib" "$root/usr$rel"
done

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
pikaci:x:1000:1000:pikaci job runner:/home/pikaci:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
pikaci:x:1000:
nogroup:x:65534:
EOF
# busybox init: nothing to start, keep the container up.
cat >"$root/etc/inittab" <<'EOF'
::sysinit:/bin/true
::respawn:/bin/sleep 2147483647
EOF
chown 1000:1000 "$root/home/pikaci"
chmod 1777 "$root/tmp" "$root/var/tmp"

cat >"$out/metadata.yaml" <<EOF
architecture: $(uname -m)
creation_date: $(date +%s)
properties:
  description: $description
  os: busybox
EOF
# Written under temporary names, renamed when complete: an interrupted build
# never leaves a tarball that looks finished.
tar -C "$out" -czf "$out/meta.tar.gz.tmp" metadata.yaml
tar -C "$root" --numeric-owner -czf "$out/rootfs.tar.gz.tmp" .
mv "$out/meta.tar.gz.tmp" "$out/meta.tar.gz"
mv "$out/rootfs.tar.gz.tmp" "$out/rootfs.tar.gz"
rm -f "$out/metadata.yaml"
echo "incus-container-image: wrote $out/meta.tar.gz and $out/rootfs.tar.gz"
