#!/usr/bin/env bash
# Checks that every .nix file of the repository parses (nix-instantiate --parse),
# installing Debian's nix-bin first when nix-instantiate is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nix-instantiate >/dev/null; then
  echo "== installing nix-bin"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nix-bin >/dev/null
fi

# Debian's nix-bin defaults to build users that a parse-only check never needs.
export NIX_CONFIG="${NIX_CONFIG:-build-users-group =}"

status=0
count=0
while IFS= read -r -d '' file; do
  count=$((count + 1))
  if ! nix-instantiate --parse "$file" >/dev/null; then
    echo "nix: $file does not parse" >&2
    status=1
  fi
done < <(git ls-files -z --cached --others --exclude-standard -- '*.nix')

if [ "$count" -eq 0 ]; then
  echo "nix: no .nix files found" >&2
  exit 1
fi
echo "nix: $count file(s) checked"
exit "$status"
