#!/usr/bin/env bash
# build.sh [VERSION [OUTDIR]]: cross-compile Clinic Sync for Windows (amd64)
# on Linux with cgo and mingw-w64.
#   OUTDIR/clinicsync.exe      the tray app (GUI subsystem: no console window)
#   OUTDIR/clinicsync-cli.exe  the same program as a console exe, for IT
#                              people and scripts (`clinicsync-cli.exe status`)
# Both carry the icon, a VERSIONINFO resource and the manifest from
# clinicsync.rc. VERSION defaults to `git describe --tags --always --dirty`;
# OUTDIR to dist/windows. Needs gcc-mingw-w64-x86-64 and
# binutils-mingw-w64-x86-64.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

VERSION=${1:-$(default_version)}
OUTDIR=${2:-$root/dist/windows}
GO=${GO:-go}
# CGO=0 builds the headless program (no window: `run`, `sync`, ...) without
# the mingw C compiler, in seconds rather than minutes from a cold cache;
# CI's packaging check uses it. Releases are built with the default, CGO=1.
CGO=${CGO:-1}
CC_WIN=${CC_WIN:-x86_64-w64-mingw32-gcc}
WINDRES=${WINDRES:-x86_64-w64-mingw32-windres}
need "$GO" "$CC_WIN" "$WINDRES"

num=$(winver "$VERSION")
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

# The Go linker links every *.syso in the package folder; the _windows_amd64
# suffix keeps this one out of every other build. It exists only while this
# script runs (and is in .gitignore). One build at a time per work tree.
syso=$root/cmd/clinicsync/rsrc_windows_amd64.syso
exec 9<"$here/build.sh"
flock 9
tmp=$(mktemp -d)
cleanup() { rm -f "$syso"; rm -rf "$tmp"; }
trap cleanup EXIT

# resources NAME DESCRIPTION: compile clinicsync.rc into the .syso.
resources() {
  cat >"$tmp/version.h" <<H
#define VER_NUM     ${num//./,}
#define VER_STR     "$num"
#define VER_PRODUCT "${VERSION//\"/}"
#define EXE_NAME    "$1"
#define EXE_FILE    "$1.exe"
#define EXE_DESC    "$2"
H
  "$WINDRES" --target=pe-x86-64 -I "$tmp" -I "$here" -I "$root/assets" \
    -i "$here/clinicsync.rc" -O coff -o "$syso"
}

build() { # build OUTPUT EXTRA_LDFLAGS
  (cd "$root" && CGO_ENABLED=$CGO GOOS=windows GOARCH=amd64 CC="$CC_WIN" \
    "$GO" build -trimpath -ldflags "-s -w $2 -X main.version=$VERSION" -o "$1" ./cmd/clinicsync)
}

echo "clinicsync $VERSION (file version $num) -> $OUTDIR"
resources clinicsync "Clinic Sync"
build "$OUTDIR/clinicsync.exe" "-H=windowsgui"
resources clinicsync-cli "Clinic Sync (command line)"
build "$OUTDIR/clinicsync-cli.exe" ""
ls -l "$OUTDIR/clinicsync.exe" "$OUTDIR/clinicsync-cli.exe"
