#!/usr/bin/env bash
# install-test-deps.sh installs the third-party Kafka clients that the
# cross-client compatibility suite (test/compat) drives:
#
#   - Debian packages: kcat, python3-kafka, python3-confluent-kafka and the
#     Python codec libraries (snappy, lz4, zstandard). The Python drivers run
#     under /usr/bin/python3, because a python3 found first on PATH (pyenv)
#     does not see Debian's dist-packages.
#   - kafkajs and its codec packages from npm into test/compat/node, pinned by
#     the package-lock.json committed there (`npm ci`).
#
# It is idempotent and prints nothing when everything is already present.
# `apt-get update` runs once, and only when a Debian package is missing.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_dir="$repo_root/test/compat/node"

debian_packages=(
	kcat
	python3-kafka
	python3-confluent-kafka
	python3-snappy
	python3-lz4
	python3-zstandard
)
# kafkajs needs node and npm; the native codec packages (lz4, cppzst for
# zstd) are compiled by node-gyp, which needs a C++ toolchain and Python.
command -v node >/dev/null 2>&1 || debian_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || debian_packages+=(npm)
command -v g++ >/dev/null 2>&1 || debian_packages+=(g++)
command -v make >/dev/null 2>&1 || debian_packages+=(make)
[ -x /usr/bin/python3 ] || debian_packages+=(python3)

installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for pkg in "${debian_packages[@]}"; do
	installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
	echo "install-test-deps: installing Debian packages: ${missing[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci when node_modules is missing or older than the lock file.
stamp="$node_dir/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$node_dir/package-lock.json" -nt "$stamp" ]; then
	echo "install-test-deps: npm ci in test/compat/node"
	# cppzst (behind @kafkajs/zstd) sets an old C++ standard that today's
	# node headers reject; a later -std flag wins.
	(cd "$node_dir" && CXXFLAGS="${CXXFLAGS:-} -std=gnu++17" \
		npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
