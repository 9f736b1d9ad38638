#!/usr/bin/env bash
# smoke.sh: the Windows smoke test under Wine (`make windows-smoke`).
#
# A fresh Wine prefix in a temporary folder (prefix.sh: wineboot and the
# ProcessPrng stub), then TestWineSmoke (cmd/clinicsync/wine_test.go, build
# tag `wine`): clinicsync.exe built with GOOS=windows CGO_ENABLED=0 runs
# `sync` twice under Wine against the simulator and must write below
# C:\Clinic\YourSoftware\Documents\Patients and report those Windows paths;
# and TestWineSystemProxy (wineproxy_test.go): with no proxy variable, the
# same exe reaches the simulator at https://api.askara.test only through a
# test proxy named by the registry's Internet Settings (ProxyEnable and
# ProxyServer, then an AutoConfigURL script that Wine's WinHTTP runs), and
# names that proxy once it is stopped. Then sync/dest's
# TestTempFilesAreHiddenUntilPublished, built for Windows, under Wine.
#
# Needs: wine64 and gcc-mingw-w64-x86-64 (Debian 12:
#   apt-get install --no-install-recommends wine64 gcc-mingw-w64-x86-64),
# and Go. No display and no 32-bit Wine are needed.
# KEEP=1 keeps the prefix to look at afterwards.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
GO=${GO:-go}

missing=
{ command -v wine64 || command -v wine || [ -x /usr/lib/wine/wine64 ]; } >/dev/null 2>&1 || missing="$missing wine64"
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || missing="$missing gcc-mingw-w64-x86-64"
if [ -n "$missing" ]; then
  echo "windows-smoke: missing:$missing (apt-get install --no-install-recommends$missing)" >&2
  exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/clinicsync-wine.XXXXXX")
export WINEPREFIX="$tmp/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY  # console programs only: no window, no X server
# Wine writes Unix file names in the locale's encoding; a locale that is not
# installed (en_US.UTF-8 on a bare Debian) makes non-ASCII names fail.
export LC_ALL=C.UTF-8
cleanup() {
  # Stop this prefix's wineserver (it lingers a few seconds after the last
  # program), then remove the prefix.
  for s in wineserver /usr/lib/wine/wineserver64 /usr/lib/wine/wineserver; do
    if command -v "$s" >/dev/null 2>&1; then "$s" -k >/dev/null 2>&1 || true; break; fi
  done
  if [ "${KEEP:-}" = 1 ]; then echo "windows-smoke: prefix kept in $WINEPREFIX"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

ms() { echo $(( $(date +%s%N) / 1000000 )); }
secs() { printf '%d.%d' $(( $1 / 1000 )) $(( $1 % 1000 / 100 )); }
t0=$(ms)
WINE=$("$here/prefix.sh" "$WINEPREFIX" | sed -n 's/^WINE=//p' | tail -1)
export WINE
t1=$(ms)
printf 'windows-smoke: prefix with the ProcessPrng stub in %s s (%s, %s)\n' "$(secs $((t1 - t0)))" \
  "$("$WINE" --version 2>/dev/null || echo wine)" "$WINE"

cd "$repo"
# CGO_ENABLED=0: the test package then builds without Fyne's cgo driver.
CGO_ENABLED=0 "$GO" test -tags wine -run '^(TestWineSmoke|TestWineSystemProxy)$' -count=1 -v -timeout 10m ./cmd/clinicsync/
# The destination's temp files are hidden (FILE_ATTRIBUTE_HIDDEN) while
# written and the published file is not: sync/dest's own test, built for
# Windows. Wine reports dot files as hidden unless ShowDotFiles is set, which
# would hide a missing attribute.
"$WINE" reg add 'HKCU\Software\Wine' /v ShowDotFiles /d Y /f >/dev/null
CGO_ENABLED=0 GOOS=windows GOARCH=amd64 "$GO" test -c -o "$tmp/dest.test.exe" ./sync/dest/
"$WINE" "$tmp/dest.test.exe" -test.run '^TestTempFilesAreHiddenUntilPublished$' -test.count=1 -test.v
t2=$(ms)
printf 'windows-smoke: test in %s s; %s s in all\n' "$(secs $((t2 - t1)))" "$(secs $((t2 - t0)))"
