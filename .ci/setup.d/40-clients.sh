# Installs the real clients that functions/local's tests drive: the official
# browser SDK, the lz4 package and DuckDB's Node client (pinned in
# functions/local/testdata/clients/package-lock.json; lz4 builds a native
# module, which takes python3 and a C++ compiler), and Debian's chromium to
# run the SDK in. Sourced by .ci/test; npm runs only when node_modules is
# missing or was installed from another lock file, apt-get only when chromium
# is missing.
clients_dir="$PWD/functions/local/testdata/clients"
clients_lock_sum="$(sha256sum "$clients_dir/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$clients_dir/node_modules/.webtrack-lock-sha256" ] ||
  [ "$(cat "$clients_dir/node_modules/.webtrack-lock-sha256")" != "$clients_lock_sum" ] ||
  [ ! -f "$clients_dir/node_modules/lz4/build/Release/lz4.node" ]; then
  echo "installing the test clients with npm ci"
  (cd "$clients_dir" && npm ci --no-audit --no-fund)
  echo "$clients_lock_sum" >"$clients_dir/node_modules/.webtrack-lock-sha256"
fi
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium with apt-get"
  clients_sudo=""
  [ "$(id -u)" -eq 0 ] || clients_sudo="sudo"
  $clients_sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $clients_sudo apt-get install -y --no-install-recommends chromium
fi
unset clients_dir clients_lock_sum clients_sudo
