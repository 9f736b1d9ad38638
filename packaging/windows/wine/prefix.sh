#!/usr/bin/env bash
# prefix.sh PREFIX: a fresh 64-bit Wine prefix in PREFIX (which must not
# exist or be empty) that can run Go 1.24+ Windows programs: wineboot, then
# the ProcessPrng stub (bcryptprimitives.c, built here into a temporary
# folder, never committed) copied into its C:\windows\system32.
#
# Needs wine64 (Debian 12: Wine 8.0; the `wine` package with its wrapper is
# optional) and gcc-mingw-w64-x86-64. Prints the loader to use on stdout's
# last line as WINE=... so that callers need not search for it again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prefix=${1:?usage: prefix.sh PREFIX}

# The loader: `wine` when the wrapper package is installed, else wine64's own.
wine=${WINE:-}
if [ -z "$wine" ]; then
  for c in wine64 wine /usr/lib/wine/wine64; do
    if command -v "$c" >/dev/null 2>&1; then wine=$(command -v "$c"); break; fi
  done
fi
[ -n "$wine" ] || { echo "prefix.sh: no Wine: apt-get install --no-install-recommends wine64" >&2; exit 2; }
wineserver=${WINESERVER:-}
if [ -z "$wineserver" ]; then
  for c in wineserver /usr/lib/wine/wineserver64 /usr/lib/wine/wineserver; do
    if command -v "$c" >/dev/null 2>&1; then wineserver=$(command -v "$c"); break; fi
  done
fi
cc=${MINGW_CC:-x86_64-w64-mingw32-gcc}
command -v "$cc" >/dev/null 2>&1 || { echo "prefix.sh: no $cc: apt-get install --no-install-recommends gcc-mingw-w64-x86-64" >&2; exit 2; }

# The stub DLL, built outside the source tree.
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
"$cc" -O2 -s -Wall -shared -o "$build/bcryptprimitives.dll" \
  "$here/bcryptprimitives.c" "$here/bcryptprimitives.def" -ladvapi32

mkdir -p "$prefix"
export WINEPREFIX=$(cd "$prefix" && pwd) WINEARCH=win64 WINEDEBUG=${WINEDEBUG:--all}
# No Mono or Gecko download prompts (nothing here needs .NET or a browser).
export WINEDLLOVERRIDES=${WINEDLLOVERRIDES:-mscoree,mshtml=}
# wineboot prints a harmless complaint about syswow64\rundll32.exe when
# 32-bit Wine (wine32, i386) is not installed: it is not needed here.
"$wine" wineboot -i >"$build/wineboot.log" 2>&1 || { cat "$build/wineboot.log" >&2; exit 1; }
[ -z "$wineserver" ] || "$wineserver" -w
sys32="$WINEPREFIX/drive_c/windows/system32"
[ -d "$sys32" ] || { echo "prefix.sh: wineboot made no $sys32" >&2; cat "$build/wineboot.log" >&2; exit 1; }
cp "$build/bcryptprimitives.dll" "$sys32/"
echo "WINE=$wine"
