#!/usr/bin/env bash
# Sets up everything the test suite needs on a Debian machine, and is safe to run
# again: each step checks first and says what it does. Run as root (or with sudo).
#
#   bash scripts/test-setup.sh        # install and start what the tests need
#
# scripts/test.sh runs this, then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '== %s\n' "$*"; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    SUDO=(sudo)
  else
    echo "test-setup: run as root (or install sudo): it installs Debian packages" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_install() {
  # apt_install [apt-get options...] PKG...: installs only what is missing.
  local opts=() pkgs=() missing=()
  for a in "$@"; do
    case "$a" in -*) opts+=("$a") ;; *) pkgs+=("$a") ;; esac
  done
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$apt_updated" -eq 0 ]; then
    say "apt-get update"
    "${SUDO[@]}" apt-get update -qq
    apt_updated=1
  fi
  say "installing ${missing[*]}"
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${opts[@]}" "${missing[@]}" >/dev/null
}

# --- Debian packages the tests use -------------------------------------------
# git: tests commit to throwaway repositories; chromium: the page tests;
# nix-bin: the Nix files parse check; busybox-static and bash-static: the
# Incus test image; openssh-server and openssh-client: `remote_host` over a
# real sshd on 127.0.0.1 (the tests start their own; none is left running);
# bsdutils: `script`, the pseudo-terminal pikaci's terminal tests (colour,
# Ctrl-C typed at a terminal) run the binary on.
apt_install git chromium nix-bin busybox-static bash-static openssh-server openssh-client bsdutils

# --- Incus: the daemons, the test project, images and remote ----------------
# shellcheck source=scripts/incus-test-setup.sh
source scripts/incus-test-setup.sh

# --- Python packages the tests use ------------------------------------------
# openapi-spec-validator (it brings openapi-schema-validator and jsonschema):
# pika-news' OpenAPI test validates its document and checks every answer
# against the document's schemas with them.
if ! command -v python3 >/dev/null; then
  apt_install python3
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
  apt_install python3-pip
fi
if python3 -c 'import openapi_spec_validator, openapi_schema_validator' 2>/dev/null; then
  :
else
  say "installing openapi-spec-validator with pip"
  pip_install=(python3 -m pip install --quiet --disable-pip-version-check openapi-spec-validator)
  # A Debian python3 refuses installs outside a virtualenv unless told to.
  "${pip_install[@]}" 2>/dev/null || "${pip_install[@]}" --break-system-packages
fi

# --- axe-core (npm) ------------------------------------------------------------
# pika-news' accessibility test (a11y::*) runs axe-core in Chromium on every
# page; it reads /opt/axe-core/node_modules/axe-core/axe.min.js.
if [ ! -f /opt/axe-core/node_modules/axe-core/axe.min.js ]; then
  command -v npm >/dev/null || apt_install nodejs npm
  say "installing axe-core 4 into /opt/axe-core with npm"
  "${SUDO[@]}" npm install --silent --no-audit --no-fund --prefix /opt/axe-core axe-core@4 >/dev/null
fi

# --- The lane user and util-linux ----------------------------------------------
# pika-news' sandbox tests run lanes as a dedicated unprivileged user, as a
# production host does (docs/security.md). Its home holds nothing of the service.
if ! id pika-lane >/dev/null 2>&1; then
  say "creating the lane user pika-lane"
  "${SUDO[@]}" useradd --system --user-group --create-home --home-dir /var/lib/pika-lane \
    --shell /usr/sbin/nologin pika-lane
fi
# pika-news' uid_range tests lend uids 200100-200299 to lanes: they need no
# passwd entries, but must belong to no user of this machine.
if getent passwd | awk -F: '$3 >= 200100 && $3 <= 200299 { found = 1 } END { exit !found }'; then
  echo "test-setup: a user has a uid in 200100-200299, which pika-news' uid_range tests lend to lanes" >&2
  exit 1
fi
# perl: the hand-over race test's swapping process runs it as the lane user.
command -v perl >/dev/null || apt_install perl-base
# setpriv: lanes die with a killed server; prlimit: the connection-limit test.
if ! command -v setpriv >/dev/null || ! command -v prlimit >/dev/null; then
  apt_install util-linux
fi

# --- cgroup v2 ------------------------------------------------------------------
# The cgroup tests (pikaci-core cgroup::tests, pika-news-web lane_cgroups,
# pikaci-cli kill::a_job_that_*) make real cgroups, as root, in the cgroup v2
# hierarchy (on a hybrid layout, the one beside the v1 controllers). pikaci and
# pika-news mount one at /run/pikaci/cgroup2 themselves when the machine has
# none; this does the same up front, so the tests find it.
if ! grep -q ' - cgroup2 ' /proc/self/mountinfo; then
  say "mounting a cgroup2 hierarchy at /run/pikaci/cgroup2"
  "${SUDO[@]}" mkdir -p /run/pikaci/cgroup2
  "${SUDO[@]}" mount -t cgroup2 none /run/pikaci/cgroup2
fi

# Tests commit to throwaway git repositories.
git config --global user.email >/dev/null || git config --global user.email "ci@pikaci.invalid"
git config --global user.name >/dev/null || git config --global user.name "pikaci ci"

say "test setup done"
