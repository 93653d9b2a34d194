#!/usr/bin/env bash
# OCR for DLP (opt-in per profile): Debian's Tesseract with English data, and the DejaVu
# fonts the OCR tests and bench/dlp_formats.py render their screenshots with. Installs the
# packages when missing (needs root; apt runs under /tmp/apt.lock so parallel installs
# queue); idempotent and quiet when everything is there. Called by scripts/test.
set -uo pipefail

log() { printf '[ensure-tesseract] %s\n' "$*" >&2; }

missing=()
command -v tesseract >/dev/null || missing+=(tesseract-ocr)
if ! ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata >/dev/null 2>&1; then
  missing+=(tesseract-ocr-eng)
fi
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || missing+=(fonts-dejavu-core)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  log "missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]}); without Tesseract, images are skipped as ocr_unavailable and the OCR tests say so"
  exit 0
fi
lock=()
command -v flock >/dev/null && lock=(flock /tmp/apt.lock)
log "installing ${missing[*]} with apt"
("${lock[@]}" apt-get update -qq \
  && DEBIAN_FRONTEND=noninteractive "${lock[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}") >/dev/null \
  || log "apt-get install ${missing[*]} failed"
exit 0
