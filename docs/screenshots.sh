#!/usr/bin/env bash
# Screenshots of the real app: `clinicsync demo` (simulator + window) under
# Xvfb, one PNG per tab, plus the tray menu as Fyne draws it (Xvfb has no
# tray host). Output: docs/screenshots/*.png. Needs xvfb, xdotool and
# imagemagick (make deps installs them).
set -euo pipefail

# setup_shots BIN: the first-run setup, one PNG per step (setup-*.png). It
# runs inside a private D-Bus session (see the end of this script) with a
# keychain (gnome-keyring) and no tray host. The app starts with a file
# that only points at the simulator (with its sign-in), as an IT person
# might leave it: every step shows. The browser is a stand-in xdg-open
# that fetches the sign-in page; the simulator approves at once.
setup_shots() {
  local bin=$1 tmp port win
  tmp=$(mktemp -d /tmp/clinicsync-setup-XXXX)
  mkdir -p "$tmp/YourSoftware/Documents/Patients" "$tmp/bin" "$tmp/home" "$tmp/run"
  chmod 700 "$tmp/run"
  export HOME=$tmp/home XDG_DATA_HOME=$tmp/home/.local/share XDG_CONFIG_HOME=$tmp/home/.config XDG_RUNTIME_DIR=$tmp/run
  eval "$(printf clinicsync | gnome-keyring-daemon --unlock --components=secrets)"
  printf '#!/bin/sh\ncurl -fsL "$1" >/dev/null 2>&1 &\n' >"$tmp/bin/xdg-open"
  chmod +x "$tmp/bin/xdg-open"
  port=$((18700 + RANDOM % 1000))
  "$bin" sim --listen "127.0.0.1:$port" --oauth --auto-approve --documents 6 --patients 3 >/dev/null 2>&1 &
  local sim=$!
  shot() { sleep 1.5; import -window "$win" "$out/setup-$1.png"; echo "wrote $out/setup-$1.png"; }
  click() { xdotool mousemove --window "$win" "$1" "$2" click 1; }
  next() { click 930 613; }
  # A file with problems: the setup opens at the folder, and says what
  # only the file can correct.
  printf '[askara]\npoll_interval = "5s"\n[destination]\nroot = "Patients"\n' >"$tmp/config.toml"
  CLINICSYNC_CONFIG=$tmp/config.toml CLINICSYNC_DATA_DIR=$tmp/data "$bin" >/dev/null 2>&1 &
  local app=$!
  win=$(timeout 60 xdotool search --sync --name '^Clinic Sync$' | head -1)
  xdotool windowmove "$win" 0 0
  shot problem
  kill $app; wait $app 2>/dev/null || true
  while xdotool search --name '^Clinic Sync$' >/dev/null; do sleep 0.2; done
  cat >"$tmp/config.toml" <<TOML
[askara]
api_url = "http://127.0.0.1:$port"
authorize_url = "http://127.0.0.1:$port/authorize"
token_url = "http://127.0.0.1:$port/oauth2/token"
redirect_port = 0
TOML
  PATH=$tmp/bin:$PATH CLINICSYNC_CONFIG=$tmp/config.toml CLINICSYNC_DATA_DIR=$tmp/data "$bin" >/dev/null 2>&1 &
  app=$!
  win=$(timeout 60 xdotool search --sync --name '^Clinic Sync$' | head -1)
  xdotool windowmove "$win" 0 0
  shot 1-sign-in
  click 57 233; shot 2-signed-in          # Sign in…: the stand-in browser approves
  next; click 400 175
  xdotool type --delay 5 "$tmp/YourSoftware/Documents/Patient"; shot 3-folder-missing
  xdotool type s; shot 4-folder
  next; click 23 210; click 23 175; shot 5-pattern
  next; shot 6-done
  click 860 613; sleep 4; shot 7-syncing   # Finish: the window shows its tabs, documents arrive
  kill $app $sim; wait $app $sim 2>/dev/null || true
}
if [ "${1:-}" = --setup-shots ]; then
  out=$3
  setup_shots "$2"
  exit
fi

self=$(realpath "$0")
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

dbus-run-session -- "$self" --setup-shots "$bin" "$PWD/$out"

SCREENSHOTS_DIR=$PWD/$out go test ./app -run '^TestTrayMenuImage$' -count=1 >/dev/null
echo "wrote $out/tray-menu.png"
