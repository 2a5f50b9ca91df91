#!/usr/bin/env bash
# The whole test suite: sets up what the tests need (scripts/test-setup.sh),
# then runs every test of the workspace. Extra arguments go to `cargo test`.
#
#   bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-setup.sh
echo "== cargo test --workspace $*"
exec cargo test --workspace "$@"
