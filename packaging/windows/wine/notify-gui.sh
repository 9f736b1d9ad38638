#!/usr/bin/env bash
# notify-gui.sh [SHOT.png]: the real Windows tray app (cgo build) under Wine
# and Xvfb says a problem in its banner and sends its notification without
# starting any process.
#
# The documents folder's disk has less than [sync] min_free_mb (100000 MB,
# the most the setting allows) free, so the first pass opens a "disk full"
# problem: the banner shows it and the app sends one notification. Wine 8
# has no toast service, so Windows refuses the toast and the app logs
# "notification not shown" (debug log): the sign that it was sent. Wine
# traces every CreateProcess (WINEDEBUG=+process); the app's run must have
# none. (Fyne's own SendNotification, the app's way before, shows there as
# CreateProcessInternalW ... PowerShell -ExecutionPolicy Bypass.) SHOT.png
# keeps a screenshot of the window. Needs wine64, gcc-mingw-w64-x86-64,
# xvfb, x11-utils, xdotool and imagemagick, and a disk with less than 100000 MB free.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
GO=${GO:-go}
shot=${1:-}
[ -z "$shot" ] || shot=$(realpath "$shot")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/clinicsync-notify-gui.XXXXXX")
free=$(df -m --output=avail "$tmp" | tail -1 | tr -d ' ')
if (( free >= 100000 )); then echo "notify-gui.sh: $free MB free here; needs less than 100000" >&2; exit 2; fi
export WINEPREFIX="$tmp/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" LC_ALL=C.UTF-8
pids=()
wineserver=
for s in wineserver /usr/lib/wine/wineserver64 /usr/lib/wine/wineserver; do
  if command -v "$s" >/dev/null 2>&1; then wineserver=$(command -v "$s"); break; fi
done
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -z "$wineserver" ] || "$wineserver" -k >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

WINE=$("$here/prefix.sh" "$WINEPREFIX" | sed -n 's/^WINE=//p' | tail -1)
(cd "$repo" && CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc \
  "$GO" build -ldflags "-H=windowsgui" -o "$tmp/clinicsync.exe" ./cmd/clinicsync)
(cd "$repo" && CGO_ENABLED=0 "$GO" build -o "$tmp/sim" ./cmd/clinicsync)

port=$((18800 + RANDOM % 1000))
"$tmp/sim" sim --listen "127.0.0.1:$port" --documents 6 --patients 3 >"$tmp/sim.log" 2>&1 &
pids+=($!)
display=:$((70 + RANDOM % 9))
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
pids+=($!)
export DISPLAY=$display  # also for Wine's desktop process, started below
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.2; done
mkdir -p "$WINEPREFIX/drive_c/clinic/Patients"
cat >"$WINEPREFIX/drive_c/clinic/config.toml" <<TOML
[askara]
api_url = "http://127.0.0.1:$port"
[destination]
root = 'C:\\clinic\\Patients'
patient_folder = "{LASTNAME}_{FIRSTNAME}"
[sync]
min_free_mb = 100000
[app]
start_at_login = false
TOML
# Wine's own services (services.exe, rpcss, ...) start with the first
# program of a session: start them now, so that the trace below is the app's.
"$wineserver" -p
"$WINE" cmd /c exit

log="$WINEPREFIX/drive_c/clinic/data/clinicsync.log"
env WINEDEBUG=+process CLINICSYNC_ACCESS_TOKEN=demo CLINICSYNC_LOG=debug \
  'CLINICSYNC_CONFIG=C:\clinic\config.toml' 'CLINICSYNC_DATA_DIR=C:\clinic\data' \
  "$WINE" "$tmp/clinicsync.exe" >"$tmp/app.out" 2>"$tmp/trace.log" &
pids+=($!)
for _ in $(seq 120); do
  grep -q 'notification not shown' "$log" 2>/dev/null && break
  sleep 0.5
done
grep -q 'msg=problem kind=disk_full' "$log" 2>/dev/null || {
  echo "notify-gui.sh: no disk_full problem" >&2; cat "$tmp/app.out" >&2; grep -v ':trace:' "$tmp/trace.log" | tail -20 >&2; exit 1; }
grep -q 'notification not shown' "$log" || { echo "notify-gui.sh: no notification sent within 60 s" >&2; exit 1; }
if [ -n "$shot" ]; then
  win=$(xdotool search --name '^Clinic Sync$' | head -1)
  sleep 2
  import -window "$win" "$shot"
  echo "notify-gui.sh: wrote $shot"
fi
started=$(grep -c 'CreateProcessInternalW app' "$tmp/trace.log" || true)
grep 'CreateProcessInternalW app' "$tmp/trace.log" >&2 || true
[ "$started" = 0 ] || { echo "notify-gui.sh: the app started $started processes" >&2; exit 1; }
echo "notify-gui.sh: the problem opened, a notification was sent (Wine refused the toast), and no process was started"
