#!/usr/bin/env bash
# Installs the command-line tools the test suites start themselves, and only those that are missing.
#
# Idempotent and quiet: when every tool is already there it runs no apt-get at all and finishes in
# well under a second. It uses Debian's packages only (the one registry this kind of machine reaches
# besides npm). Exits non-zero, with a message saying what failed, when a tool cannot be installed.
#
#   bash .ci/install-tools.sh            # install what is missing
#   bash .ci/install-tools.sh --check    # only report what is missing (exit 1 if anything is)
#
# Tools (command -> Debian package):
#   pgbouncer      -> pgbouncer      test/support/pgbouncer.ts (transaction-mode pooling tests)
#   redis-server   -> redis-server   test/support/redis-cluster.ts, redis-sentinel.ts (also runs
#                                    sentinels, as `redis-server FILE --sentinel`)
#   redis-cli      -> redis-tools    `redis-cli --cluster create`
#   promtool       -> prometheus     test/sre-pack.e2e.ts (`promtool check rules`, `promtool test rules`
#                                    on deploy/prometheus/; lands in /usr/bin; its daemon is not started)
set -euo pipefail

# "command package" pairs. Add a tool here, nowhere else.
TOOLS=(
  "pgbouncer pgbouncer"
  "redis-server redis-server"
  "redis-cli redis-tools"
  "promtool prometheus"
)

check_only=false
[[ "${1:-}" == "--check" ]] && check_only=true

fail() {
  echo "install-tools: $*" >&2
  exit 1
}

# Debian puts some binaries (pgbouncer among them) in /usr/sbin, which is not on every PATH.
export PATH="$PATH:/usr/sbin:/sbin"

missing=()
for pair in "${TOOLS[@]}"; do
  read -r cmd pkg <<<"$pair"
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

# Unique package names, in order.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++')

if $check_only; then
  echo "install-tools: missing packages: ${missing[*]} (run: bash .ci/install-tools.sh)" >&2
  exit 1
fi

command -v apt-get >/dev/null 2>&1 || fail "apt-get not found; install these Debian packages by hand: ${missing[*]}"

SUDO=()
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo >/dev/null 2>&1 || fail "not root and no sudo; install these Debian packages as root: ${missing[*]}"
  SUDO=(sudo -n)
fi

echo "install-tools: installing ${missing[*]}" >&2
log="$(mktemp -t install-tools.XXXXXX.log)"
trap 'rm -f "$log"' EXIT

export DEBIAN_FRONTEND=noninteractive
# DPkg::Lock::Timeout: wait (up to 5 min) for another apt-get on the machine instead of failing at once.
# The package lists may be absent on a fresh machine (apt-get install then finds nothing): update once.
if ! "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq >"$log" 2>&1; then
  cat "$log" >&2
  fail "apt-get update failed (see above)"
fi
# The packages' own daemons (prometheus on :9090, redis-server on :6379, pgbouncer on :6432) are not
# wanted: the tests start their own on free ports. policy-rc.d exit 101 tells invoke-rc.d and
# deb-systemd-invoke not to start them; only ours is removed afterwards.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null && "${SUDO[@]}" chmod +x "$policy" && own_policy=true
fi
trap 'rm -f "$log"; if $own_policy; then "${SUDO[@]}" rm -f "$policy"; fi' EXIT
if ! "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
  cat "$log" >&2
  fail "apt-get install ${missing[*]} failed (see above)"
fi

# Verify: a package that installed but did not bring its command is still a failure.
for pair in "${TOOLS[@]}"; do
  read -r cmd pkg <<<"$pair"
  command -v "$cmd" >/dev/null 2>&1 || fail "package $pkg installed but command '$cmd' is still not on PATH"
done

echo "install-tools: ok" >&2
