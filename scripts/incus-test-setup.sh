# The Incus part of scripts/test-setup.sh (sourced by it: uses its `say`,
# `apt_install` and SUDO). Safe to run again; each step checks first.
#
# The Incus tests run jobs in real system containers (these machines have no
# vhost_vsock, so no VMs). docs/incus-testing.md describes this world:
# - the machine's daemon (started here when none runs), with a `dir` pool
#   and no network, holds project pikaci-tests with the test images;
# - a second daemon of our own (its own INCUS_DIR, socket and log) listens
#   on https://127.0.0.1:8444 as a one-member cluster. The remote and cluster
#   tests reach it through the client remote `pikaci-test-remote`, so turning
#   on clustering never changes the daemon everyone else uses.

if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
  say "adding bookworm-backports to apt's sources"
  "${SUDO[@]}" tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  apt_updated=0
fi
apt_install --target-release=bookworm-backports incus

TEST_PROJECT=pikaci-tests
TEST_PROFILE=pika-agent-dev
REMOTE_NAME=pikaci-test-remote
REMOTE_DIR=/var/lib/incus-pikaci-remote
REMOTE_ADDR=127.0.0.1:8444
REMOTE_MEMBER=pikaci-member
INCUSD=/usr/libexec/incus/incusd

local_incus() { "${SUDO[@]}" env -u INCUS_DIR incus "$@"; }
remote_incus() { "${SUDO[@]}" env INCUS_DIR="$REMOTE_DIR" incus "$@"; }

# start_incusd NAME RUN DIR LOG: starts a daemon (RUN is its client) unless
# it answers already. Without systemd, incusd runs in the background with
# its output appended to LOG.
start_incusd() {
  local name=$1 run=$2 dir=$3 log=$4
  if "$run" admin waitready --timeout 2 >/dev/null 2>&1; then
    return 0
  fi
  local group=root
  if getent group incus-admin >/dev/null; then
    group=incus-admin
  fi
  if [ "$name" = local ] && [ -d /run/systemd/system ]; then
    say "starting incus (systemctl start incus)"
    "${SUDO[@]}" systemctl start incus.socket incus.service
  else
    say "starting incusd ($name daemon: INCUS_DIR=$dir, log $log)"
    "${SUDO[@]}" mkdir -p "$dir" "$(dirname "$log")"
    "${SUDO[@]}" env INCUS_DIR="$dir" setsid "$INCUSD" --group "$group" \
      </dev/null >>"$log" 2>&1 &
  fi
  if ! "$run" admin waitready --timeout 60; then
    echo "test-setup: incusd ($name) did not come up; see $log" >&2
    exit 1
  fi
}

# init_incusd NAME RUN [HTTPS_ADDRESS]: a `dir` pool and a default profile
# with a root disk; no network (jobs need none).
init_incusd() {
  local name=$1 run=$2 address=${3:-}
  if [ -n "$("$run" storage list --format csv 2>/dev/null)" ]; then
    return 0
  fi
  say "initialising the $name daemon: dir pool, no network${address:+, https on $address}"
  {
    if [ -n "$address" ]; then
      printf 'config:\n  core.https_address: %s\n' "$address"
    fi
    printf 'storage_pools:\n- name: default\n  driver: dir\n'
    printf 'profiles:\n- name: default\n  devices:\n    root:\n      path: /\n      pool: default\n      type: disk\n'
  } | "$run" admin init --preseed
}

start_incusd local local_incus /var/lib/incus /var/log/incus/incusd.log
init_incusd local local_incus
start_incusd remote remote_incus "$REMOTE_DIR" "$REMOTE_DIR/logs/incusd.log"
init_incusd remote remote_incus "$REMOTE_ADDR"
if remote_incus info | grep -q 'server_clustered: false'; then
  say "making the second daemon a one-member cluster (member $REMOTE_MEMBER)"
  remote_incus cluster enable "$REMOTE_MEMBER" >/dev/null
fi

# setup_project RUN: project pikaci-tests with its own default profile (a
# root disk) and the pikaci profile (empty).
setup_project() {
  local run=$1
  if ! "$run" project show "$TEST_PROJECT" >/dev/null 2>&1; then
    say "creating project $TEST_PROJECT ($run)"
    "$run" project create "$TEST_PROJECT" >/dev/null
  fi
  if ! "$run" profile device show --project "$TEST_PROJECT" default | grep -q '^root:'; then
    "$run" profile device add --project "$TEST_PROJECT" default root disk path=/ pool=default >/dev/null
  fi
  if ! "$run" profile show --project "$TEST_PROJECT" "$TEST_PROFILE" >/dev/null 2>&1; then
    "$run" profile create --project "$TEST_PROJECT" "$TEST_PROFILE" >/dev/null
  fi
}
setup_project local_incus
setup_project remote_incus

# import_image RUN ALIAS META ROOTFS: imports unless the alias exists.
import_image() {
  local run=$1 alias=$2 meta=$3 rootfs=$4
  if "$run" image info --project "$TEST_PROJECT" "$alias" >/dev/null 2>&1; then
    return 0
  fi
  say "importing image $alias ($run)"
  "$run" image import --project "$TEST_PROJECT" "$meta" "$rootfs" --alias "$alias" >/dev/null
}

# The test image is named after the guest's sources and the image recipe, so
# worktrees with different guest code can share one daemon; the tests compute
# the same name and fail with this script's name when it is missing. It is
# built from the guest binary cargo builds here.
guest_hash=$(LC_ALL=C cat pikaci-incus/src/guest/*.rs pikaci-incus/src/bin/pikaci-incus-run.rs \
  scripts/incus-container-image.sh | sha256sum | cut -c1-12)
TEST_IMAGE=pikaci/test-$guest_hash
image_dir=target/incus-test-image/$guest_hash
if ! local_incus image info --project "$TEST_PROJECT" "$TEST_IMAGE" >/dev/null 2>&1 ||
  ! remote_incus image info --project "$TEST_PROJECT" "$TEST_IMAGE" >/dev/null 2>&1; then
  if [ ! -f "$image_dir/rootfs.tar.gz" ]; then
    say "cargo build -p pikaci-incus --bin pikaci-incus-run (for the test image)"
    cargo build -q -p pikaci-incus --bin pikaci-incus-run
    say "building the test image $TEST_IMAGE"
    "${SUDO[@]}" bash scripts/incus-container-image.sh "$image_dir" \
      target/debug/pikaci-incus-run "pikaci test image (guest sources $guest_hash)" >/dev/null
  fi
  import_image local_incus "$TEST_IMAGE" "$image_dir/meta.tar.gz" "$image_dir/rootfs.tar.gz"
  import_image remote_incus "$TEST_IMAGE" "$image_dir/meta.tar.gz" "$image_dir/rootfs.tar.gz"
fi

# Test images of other guest sources (other worktrees, older commits) are
# removed a week after their upload; the one these sources need stays.
prune_images() {
  local run=$1 cutoff alias uploaded
  cutoff=$(date -d '7 days ago' +%s)
  "$run" image list --project "$TEST_PROJECT" --format csv -c lu |
    while IFS=, read -r alias uploaded; do
      case "$alias" in
        "$TEST_IMAGE" | pikaci/test-vm) continue ;;
        pikaci/test-*) ;;
        *) continue ;;
      esac
      if [ "$(date -d "$uploaded" +%s)" -lt "$cutoff" ]; then
        say "removing the test image $alias (uploaded $uploaded)"
        "$run" image delete --project "$TEST_PROJECT" "$alias"
      fi
    done
}
prune_images local_incus
prune_images remote_incus

# A virtual-machine image whose disk is an empty qcow2: enough for Incus to
# say what it says about VMs here (that it cannot run them).
if ! local_incus image info --project "$TEST_PROJECT" pikaci/test-vm >/dev/null 2>&1; then
  vm_dir=target/incus-test-image/vm
  mkdir -p "$vm_dir"
  printf 'architecture: %s\ncreation_date: %s\nproperties:\n  description: pikaci test VM image (empty disk)\n' \
    "$(uname -m)" "$(date +%s)" >"$vm_dir/metadata.yaml"
  tar -C "$vm_dir" -czf "$vm_dir/meta.tar.gz" metadata.yaml
  # A qcow2 version 2 header: no backing file, 64 KiB clusters, 1 MiB
  # virtual size, no encryption, one L1 entry at 0x30000, the refcount
  # table at 0x10000 (one cluster), no snapshots.
  {
    printf 'QFI\xfb\x00\x00\x00\x02'                 # magic, version
    printf '\x00\x00\x00\x00\x00\x00\x00\x00'         # backing_file_offset
    printf '\x00\x00\x00\x00\x00\x00\x00\x10'         # backing_file_size, cluster_bits
    printf '\x00\x00\x00\x00\x00\x10\x00\x00'         # size
    printf '\x00\x00\x00\x00\x00\x00\x00\x01'         # crypt_method, l1_size
    printf '\x00\x00\x00\x00\x00\x03\x00\x00'         # l1_table_offset
    printf '\x00\x00\x00\x00\x00\x01\x00\x00'         # refcount_table_offset
    printf '\x00\x00\x00\x01\x00\x00\x00\x00'         # refcount_table_clusters, nb_snapshots
    printf '\x00\x00\x00\x00\x00\x00\x00\x00'         # snapshots_offset
  } >"$vm_dir/disk.qcow2"
  truncate -s 256K "$vm_dir/disk.qcow2"
  import_image local_incus pikaci/test-vm "$vm_dir/meta.tar.gz" "$vm_dir/disk.qcow2"
fi

# The client remote for the second daemon: HTTPS with a TLS client
# certificate, trusted through a one-time token.
if ! local_incus query "$REMOTE_NAME:/1.0" 2>/dev/null | grep -q '"auth": *"trusted"'; then
  say "adding the client remote $REMOTE_NAME (https://$REMOTE_ADDR, trust token)"
  local_incus remote remove "$REMOTE_NAME" >/dev/null 2>&1 || true
  for fp in $(remote_incus config trust list --format csv |
    awk -F, '$1 == "pikaci-tests-client" {print $4}'); do
    remote_incus config trust remove "$fp" >/dev/null 2>&1 || true
  done
  token=$(remote_incus config trust add pikaci-tests-client --quiet | tail -n 1)
  local_incus remote add "$REMOTE_NAME" "https://$REMOTE_ADDR" --token "$token" \
    --accept-certificate >/dev/null
fi
