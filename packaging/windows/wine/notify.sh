#!/usr/bin/env bash
# notify.sh: Windows notifications under Wine start no process.
#
# Builds app/toast's tests for Windows (CGO_ENABLED=0: the package needs no
# Fyne) and runs them under Wine in a fresh prefix (prefix.sh).
# TestShowStartsNoProcess puts the test process in a job object, checks that
# the job counts one child it starts (so the count can fail), registers the
# AppUserModelID with the name "Clinic Sync", sends three toasts and checks
# that the job counted no new process. Wine 8 has no toast service (the
# Windows Runtime's XmlDocument is not registered), so Windows refuses each
# toast there and the test logs why; the program must also exit cleanly
# afterwards (it crashed at exit while a toast's COM class factory was left
# registered). Needs wine64 and gcc-mingw-w64-x86-64, no display.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
GO=${GO:-go}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/clinicsync-notify.XXXXXX")
export WINEPREFIX="$tmp/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" LC_ALL=C.UTF-8
cleanup() {
  for s in wineserver /usr/lib/wine/wineserver64 /usr/lib/wine/wineserver; do
    if command -v "$s" >/dev/null 2>&1; then "$s" -k >/dev/null 2>&1 || true; break; fi
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
WINE=$("$here/prefix.sh" "$WINEPREFIX" | sed -n 's/^WINE=//p' | tail -1)
(cd "$repo" && GOOS=windows GOARCH=amd64 CGO_ENABLED=0 "$GO" test -c -o "$tmp/toast.test.exe" ./app/toast/)
timeout 300 "$WINE" "$tmp/toast.test.exe" -test.v -test.count=1 -test.timeout=2m
echo "notify.sh: passed, and the program exited cleanly"
