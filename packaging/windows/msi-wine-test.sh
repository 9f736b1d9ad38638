#!/usr/bin/env bash
# msi-wine-test.sh OLD.msi SAME.msi NEW.msi: install, upgrade, downgrade
# refusal, AUTOSTART=0 and uninstall of the MSIs under Wine (msiexec /qn in
# throwaway prefixes), checking the Run value, the install folder, the
# shortcut and that %AppData%\ClinicSync survives. OLD and SAME share a.b.c
# (e.g. 0.3.1.5 and 0.3.1.6), NEW is later (0.4.0). Needs wine64 (Debian
# package wine64); check.sh runs it when Wine is there. Wine is not Windows:
# this checks the MSI tables' logic, not Windows' own policies (UAC,
# SmartScreen).
set -uo pipefail
[ $# -eq 3 ] || { echo "usage: $0 OLD.msi SAME.msi NEW.msi" >&2; exit 2; }
W=${WINE:-/usr/lib/wine/wine64}
[ -x "$W" ] || W=$(command -v wine64 || command -v wine || true)
[ -n "$W" ] || { echo "msi-wine-test: no wine64, skipped"; exit 0; }
winpath() { echo "Z:$(realpath "$1" | tr / '\\')"; }
OLD=$(winpath "$1") SAME=$(winpath "$2") NEW=$(winpath "$3")
base=$(mktemp -d)
export WINEDEBUG=-all WINEDLLOVERRIDES="winemenubuilder.exe=d;mscoree,mshtml=" LC_ALL=C.UTF-8
unset DISPLAY WAYLAND_DISPLAY
fail=0
trap 'WINEPREFIX=$base/p "${W%/*}/wineserver" -k 2>/dev/null; rm -rf "$base"' EXIT
ok()  { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }
msi() { timeout 300 "$W" msiexec "$@" /qn >/dev/null 2>&1; }
runval() { "$W" reg query 'HKCU\Software\Microsoft\Windows\CurrentVersion\Run' /v 'Clinic Sync' 2>/dev/null | tr -d '\r' | sed -n 's/.*REG_SZ *//p'; }
versions() { "$W" reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Installer\UserData' /s 2>/dev/null | tr -d '\r' | sed -n 's/.*DisplayVersion *REG_SZ *//p' | sort | tr '\n' ' '; }

export WINEPREFIX=$base/p
u=$WINEPREFIX/drive_c/users/$(whoami)
dir="$u/AppData/Local/Programs/Clinic Sync"
lnk="$u/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Clinic Sync.lnk"
msi /i "$OLD" && ok "install (per user)" || bad "install"
[ -f "$dir/clinicsync.exe" ] && [ -f "$dir/clinicsync-cli.exe" ] && ok "both exes in %LocalAppData%\\Programs\\Clinic Sync" || bad "exes not in $dir"
[ -f "$lnk" ] && ok "Start menu shortcut" || bad "no Start menu shortcut"
v=$(runval)
case $v in '"C:\users\'*'\AppData\Local\Programs\Clinic Sync\clinicsync.exe" --hidden --at-login') ok "Run value: $v";; *) bad "Run value: '$v'";; esac
mkdir -p "$u/AppData/Roaming/ClinicSync" && echo keep >"$u/AppData/Roaming/ClinicSync/config.toml"
msi /i "$SAME" && [ "$(versions)" = "$(msiinfo export "$2" Property | tr -d '\r' | sed -n 's/^ProductVersion\t//p') " ] \
  && ok "same a.b.c upgrade replaces: $(versions)" || bad "same-version upgrade: installed $(versions)"
msi /i "$NEW" && ok "upgrade to $(versions)" || bad "upgrade"
[ "$(echo $(versions))" = "$(msiinfo export "$3" Property | tr -d '\r' | sed -n 's/^ProductVersion\t//p')" ] || bad "more than one version installed: $(versions)"
msi /i "$OLD" && bad "downgrade was allowed: $(versions)" || ok "downgrade refused"
msi /x "$NEW" && ok "uninstall" || bad "uninstall"
[ -z "$(runval)" ] && ok "Run value removed" || bad "Run value left: $(runval)"
[ ! -e "$dir" ] && ok "install folder removed" || bad "install folder left: $(ls "$dir")"
[ ! -e "$lnk" ] && ok "shortcut removed" || bad "shortcut left"
[ "$(cat "$u/AppData/Roaming/ClinicSync/config.toml" 2>/dev/null)" = keep ] && ok "%AppData%\\ClinicSync kept" || bad "user data removed"
"${W%/*}/wineserver" -k 2>/dev/null

export WINEPREFIX=$base/q
msi /i "$OLD" AUTOSTART=0 && ok "install AUTOSTART=0" || bad "install AUTOSTART=0"
[ -z "$(runval)" ] && ok "no Run value with AUTOSTART=0" || bad "Run value with AUTOSTART=0: $(runval)"
[ "$("$W" reg query 'HKCU\Software\ClinicSync' 2>/dev/null | tr -d '\r' | sed -n 's/^ *\([^ ]*\) *REG_SZ *\(.*\)$/\1=\2/p' | tr '\n' ' ')" = "AUTOSTART=0 " ] \
  && ok "AUTOSTART=0 preset for the app (HKCU\\Software\\ClinicSync), nothing else" || bad "presets with AUTOSTART=0: $("$W" reg query 'HKCU\Software\ClinicSync' 2>&1 | tr -d '\r')"
"$W" reg add 'HKCU\Software\Microsoft\Windows\CurrentVersion\Run' /v 'Clinic Sync' /d '"C:\elsewhere\clinicsync.exe" --hidden' /f >/dev/null 2>&1
msi /x "$OLD" && [ -z "$(runval)" ] && ok "uninstall removes a Run value the app wrote itself" || bad "Run value the app wrote is left: $(runval)"
exit $fail
