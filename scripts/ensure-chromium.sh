#!/usr/bin/env bash
# Tools the ops tests drive from outside Python: headless Chromium (renders the HTML
# report) and a compose implementation (validates docker-compose.yml) when the docker
# client has no `compose` plugin. Installs Debian's packages when missing (needs root);
# idempotent and quiet when everything is there. Called by scripts/test before pytest.
set -uo pipefail

log() { printf '[ensure-chromium] %s\n' "$*" >&2; }

missing=()
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing+=(chromium)
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
  missing+=(docker-compose)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  log "missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]}); the tests that need them will say so"
  exit 0
fi
log "installing ${missing[*]} with apt"
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >/dev/null \
  || log "apt-get install ${missing[*]} failed"
exit 0
