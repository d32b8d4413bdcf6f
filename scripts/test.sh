#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test.
#
#   bash scripts/test.sh            # the whole suite, as CI runs it
#   bash scripts/test.sh -p tower-claude-auth    # extra arguments go to cargo test
#
# The tests start real components on free loopback ports; this installs them
# when missing (as root with apt-get, or says the command to run):
#   - redis-server and redis-cli (Debian package redis-server)
#   - Python's `cryptography` (python3-cryptography), the independent Ed25519
#     the webhook `v1a` tests check against
#   - Python's `prometheus_client` (python3-prometheus-client), the text-format
#     parser the metrics tests scrape with
#   - Python's `grpc` (python3-grpcio), the second gRPC client over TLS
#   - jq, which reads the programs' JSON logs back
#   - Node.js with npm (Debian packages nodejs, npm) and, with `npm ci`, the
#     authorization server the OAuth tests run against (oauth2-mock-server,
#     pinned by tests/oauth-server/package-lock.json)
set -euo pipefail
cd "$(dirname "$0")/.."

need_packages=()
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  need_packages+=(redis-server)
fi

# A Python module, in the interpreter on PATH or Debian's (where apt installs).
has_python_module() {
  for python in python3 /usr/bin/python3; do
    command -v "$python" >/dev/null 2>&1 && "$python" -c "import $1" 2>/dev/null && return 0
  done
  return 1
}
command -v jq >/dev/null 2>&1 || need_packages+=(jq)
command -v node >/dev/null 2>&1 || need_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || need_packages+=(npm)
has_python_module cryptography || need_packages+=(python3-cryptography)
has_python_module prometheus_client || need_packages+=(python3-prometheus-client)
has_python_module grpc || need_packages+=(python3-grpcio)

if [ "${#need_packages[@]}" -gt 0 ]; then
  echo "==> installing ${need_packages[*]} (the tests start them on loopback)"
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_packages[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_packages[@]}" >/dev/null
  else
    echo "missing ${need_packages[*]}: install it with your package manager" \
         "(Debian/Ubuntu: 'sudo apt-get install -y ${need_packages[*]}')" >&2
    exit 1
  fi
fi

if [ ! -d tests/oauth-server/node_modules/oauth2-mock-server ]; then
  echo "==> npm ci in tests/oauth-server (the OAuth tests' authorization server)"
  npm ci --prefix tests/oauth-server --no-audit --no-fund --loglevel=error
fi

exec cargo test --workspace --all-features --locked "$@"
