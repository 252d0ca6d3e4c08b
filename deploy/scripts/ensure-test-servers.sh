#!/usr/bin/env bash
# ensure-test-servers.sh makes sure the server binaries that Transload's
# integration tests start for themselves are installed: redis-server, the
# PostgreSQL server tools (initdb, pg_ctl, postgres) and Chromium (the ops
# console's browser test drives /usr/bin/chromium headless with chromedp).
#
# The tests start their own throw-away instances on free loopback ports, so
# this script installs binaries only: it never leaves the distribution's
# redis or postgresql services running or enabled.
#
# Idempotent: when everything is present it changes nothing and exits 0.
# As root on Debian/Ubuntu it installs what is missing with apt-get; as any
# other user it says what to install and exits 1.
set -euo pipefail

log() { printf 'ensure-test-servers: %s\n' "$*" >&2; }

have_redis() { command -v redis-server >/dev/null 2>&1; }

pg_bindir() {
	local d
	# Newest version first (numeric sort on the version directory).
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5nr); do
		if [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
			printf '%s\n' "$d"
			return 0
		fi
	done
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
		return 0
	fi
	return 1
}

have_pg() { pg_bindir >/dev/null; }

# Debian's chromium package installs /usr/bin/chromium; the browser test
# looks for exactly that name.
have_chromium() { command -v chromium >/dev/null 2>&1; }

missing=()
have_redis || missing+=(redis-server)
have_pg || missing+=(postgresql)
have_chromium || missing+=(chromium)

if [[ ${#missing[@]} -eq 0 ]]; then
	log "ok: redis-server ($(command -v redis-server)), PostgreSQL ($(pg_bindir)), chromium ($(command -v chromium))"
	exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
	log "missing test servers: ${missing[*]}"
	log "install them as root, for example:"
	log "  sudo apt-get install -y --no-install-recommends ${missing[*]}"
	log "  (or: brew install redis postgresql and a Chromium on macOS)"
	log "then run this script again, or run the tests with CI unset to skip the integration tests that need them."
	exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
	log "missing test servers: ${missing[*]}, and apt-get is not available; install them with your package manager"
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# Keep the packages' maintainer scripts from starting the services: with
# policy-rc.d answering 101 ("action forbidden") invoke-rc.d starts nothing.
# An existing policy-rc.d (common in containers) is left as it was.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
	own_policy=1
fi
cleanup() {
	if [[ $own_policy -eq 1 ]]; then
		rm -f "$policy"
	fi
}
trap cleanup EXIT

# Only refresh the package lists when the candidates are unknown (a fresh
# image has empty lists) so repeated runs stay fast and offline-friendly.
need_update=0
for p in "${missing[@]}"; do
	cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
	if [[ -z $cand || $cand == "(none)" ]]; then
		need_update=1
	fi
done
if [[ $need_update -eq 1 ]]; then
	log "apt-get update"
	apt-get update -qq
fi

log "installing: ${missing[*]}"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Belt and braces: if a service started or was enabled despite policy-rc.d
# (for example because a policy-rc.d already existed and allowed it), stop
# and disable it. The tests run their own instances.
stop_services() {
	if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
		systemctl disable --now redis-server.service postgresql.service >/dev/null 2>&1 || true
	fi
	if command -v service >/dev/null 2>&1; then
		service redis-server stop >/dev/null 2>&1 || true
		service postgresql stop >/dev/null 2>&1 || true
	fi
	if command -v update-rc.d >/dev/null 2>&1; then
		update-rc.d redis-server disable >/dev/null 2>&1 || true
		update-rc.d postgresql disable >/dev/null 2>&1 || true
	fi
	if command -v pg_lsclusters >/dev/null 2>&1; then
		# Stop any cluster the package created and started (postgresql-common
		# creates "main"); leave its files so package upgrades keep working.
		while read -r ver name _port status _rest; do
			if [[ $status == online* ]]; then
				pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
			fi
		done < <(pg_lsclusters --no-header 2>/dev/null || true)
	fi
}
stop_services

still=()
have_redis || still+=(redis-server)
have_pg || still+=(postgresql)
have_chromium || still+=(chromium)
if [[ ${#still[@]} -ne 0 ]]; then
	log "installation finished but still missing: ${still[*]}"
	exit 1
fi
log "installed: redis-server ($(command -v redis-server)), PostgreSQL ($(pg_bindir)), chromium ($(command -v chromium))"
