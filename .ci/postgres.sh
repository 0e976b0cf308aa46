#!/usr/bin/env bash
# Makes sure the PostgreSQL server binaries (initdb, postgres) are present
# for the tests of core/store/postgres, which start their own throwaway
# server (core/store/postgres/pgtest). Installs Debian's postgresql package
# when they are missing; never starts or configures a system cluster.
#
# Usage: .ci/postgres.sh        (as root, or with sudo available)
set -euo pipefail

have() {
	for d in "${STOKE_PG_BIN:-}" /usr/lib/postgresql/*/bin; do
		[ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && { echo "$d"; return 0; }
	done
	return 1
}

if dir=$(have); then
	echo "postgres: found $("$dir/postgres" --version) in $dir"
	exit 0
fi

echo "postgres: installing the Debian package postgresql (server binaries for the store tests)"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null

if dir=$(have); then
	echo "postgres: installed $("$dir/postgres" --version) in $dir"
else
	echo "postgres: apt-get install postgresql did not provide initdb and postgres under /usr/lib/postgresql/*/bin" >&2
	exit 1
fi
