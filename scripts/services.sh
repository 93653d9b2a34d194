#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432, trust auth, database `test`) and Redis
# (127.0.0.1:6379) answer: start them when installed but stopped, install them with
# apt when missing (Debian; needs root). Idempotent; safe to run on every test run.
set -uo pipefail

log() { printf '[services] %s\n' "$*" >&2; }

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || python3 - <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", 5432)) == 0 else 1)
PY
}
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then log "need root to apt-get install $*"; return 1; fi
  log "installing $* with apt"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@") >/dev/null
}

if ! redis_up; then
  command -v redis-server >/dev/null || apt_install redis-server
  log "starting redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/casb-redis.log >/dev/null
  for _ in $(seq 1 50); do redis_up && break; sleep 0.2; done
fi

if ! pg_up; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql
  fi
  version=$(ls /etc/postgresql | sort -V | tail -1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  if [ -f "$hba" ] && ! grep -q 'casb-trust' "$hba"; then
    # Local-only test cluster: trust loopback connections, as the CI machine kind does.
    sed -i '1i host all all 127.0.0.1/32 trust # casb-trust\nhost all all ::1/128 trust # casb-trust\nlocal all all trust # casb-trust' "$hba"
  fi
  log "starting postgresql $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
    || pg_ctlcluster "$version" main start
  for _ in $(seq 1 50); do pg_up && break; sleep 0.2; done
fi

# Binaries the HA tests start themselves on loopback ports (never as system services).
for tool in pgbouncer:pgbouncer redis-sentinel:redis-sentinel pg_dump:postgresql-client; do
  command -v "${tool%%:*}" >/dev/null || apt_install "${tool##*:}" || true
done

redis_up || { log "redis is not answering on 127.0.0.1:6379"; exit 1; }
pg_up || { log "postgresql is not answering on 127.0.0.1:5432"; exit 1; }
if command -v psql >/dev/null; then
  psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" 2>/dev/null | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE test" 2>/dev/null || true
fi
log "postgresql and redis are answering"
