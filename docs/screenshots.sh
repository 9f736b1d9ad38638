#!/usr/bin/env bash
# Screenshots of the real app: `clinicsync demo` (simulator + window) under
# Xvfb, one PNG per tab, plus the tray menu as Fyne draws it (Xvfb has no
# tray host). Output: docs/screenshots/*.png. Needs xvfb, xdotool and
# imagemagick (make deps installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/screenshots
mkdir -p "$out"
bin=$(mktemp -d)/clinicsync
go build -o "$bin" ./cmd/clinicsync

display=:$((90 + RANDOM % 9))
Xvfb "$display" -noreset -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $app $xvfb 2>/dev/null || true' EXIT
export DISPLAY=$display LANG=en_US.UTF-8
unset DBUS_SESSION_BUS_ADDRESS # no tray: the window is what we photograph
sleep 1

log=$(mktemp)
"$bin" demo --documents 18 >"$log" 2>&1 &
app=$!
win=$(timeout 60 xdotool search --sync --name 'Clinic Sync' | head -1)
xdotool windowmove "$win" 0 0
sleep 4 # the first pass, and the broken document failing

shot() { sleep 1; import -window "$win" "$out/$1.png"; echo "wrote $out/$1.png"; }
tab() { xdotool mousemove --window "$win" "$1" 114 click 1; }

tab 38;  shot activity
# The header's Show button: the failed document, selected, with Retry.
xdotool mousemove --window "$win" 383 25 click 1; shot documents
tab 205; shot notes
tab 275; shot settings
tab 352; shot account
tab 441; shot diagnostics
kill $app; wait $app 2>/dev/null || true

SCREENSHOTS_DIR=$PWD/$out go test ./app -run '^TestTrayMenuImage$' -count=1 >/dev/null
echo "wrote $out/tray-menu.png"
