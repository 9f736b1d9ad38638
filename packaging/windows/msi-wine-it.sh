#!/usr/bin/env bash
# msi-wine-it.sh OLD.msi NEW.msi: what IT does with the MSI, under Wine
# (msiexec /qn in a throwaway prefix with the ProcessPrng stub, so that the
# installed exes run). OLD and NEW hold exes built with different versions
# (main.version), NEW the later one. check.sh runs it when Wine is there.
#
# Per user, then per machine (ALLUSERS=1), in the same prefix:
# - install with DESTINATION_ROOT, API_URL and LOCK=DESTINATION_ROOT: only
#   those values are written (HKCU or HKLM\Software\ClinicSync), and the
#   installed clinicsync-cli.exe status --json reports them with source
#   "policy"; a user config.toml that says otherwise does not change the
#   locked one (the unlocked API_URL is a preset the user's file overrides);
# - the files land in %LocalAppData%\Programs or %ProgramFiles%, the Run
#   value in HKCU or HKLM, the shortcut in the user's or the common menu;
# - upgrade while `clinicsync.exe run` (OLD) runs: afterwards exactly one
#   copy runs and it is NEW (instance.json's version and pid); the presets
#   survive the upgrade without being given again;
# - repair (REINSTALL=ALL) while NEW runs: it runs again afterwards, presets kept;
# - uninstall (per machine without ALLUSERS=1, as Settings > Apps does): the
#   running copy quits, program, values, Run value and
#   shortcut go; the data folder stays.
# Wine is not Windows: this proves the package's tables and the program's
# behaviour under Wine's msiexec, not Windows Installer's own (UAC, Restart
# Manager, Group Policy deployment).
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: $0 OLD.msi NEW.msi" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
start=$(date +%s)
winpath() { echo "Z:$(realpath "$1" | tr / '\\')"; }
OLDF=$1 NEWF=$2 OLD=$(winpath "$1") NEW=$(winpath "$2")
base=$(mktemp -d)
export WINEDEBUG=-all WINEDLLOVERRIDES="winemenubuilder.exe=d;mscoree,mshtml=" LC_ALL=C.UTF-8
unset DISPLAY WAYLAND_DISPLAY
export WINEPREFIX=$base/p
W=$("$here/wine/prefix.sh" "$WINEPREFIX" | sed -n 's/^WINE=//p' | tail -1)
[ -n "$W" ] || { echo "msi-wine-it: no Wine prefix"; exit 1; }
WS=$(command -v wineserver || ls /usr/lib/wine/wineserver64 /usr/lib/wine/wineserver 2>/dev/null | head -1)
trap '"$WS" -k 2>/dev/null; rm -rf "$base"' EXIT
# The app signs in with this token (the engine's test hook); nothing needs
# to answer at API_URL for these checks.
export CLINICSYNC_ACCESS_TOKEN=wine-msi-token
fail=0
ok()  { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }
# msi ARGS...: msiexec ARGS /qn; what it and its custom actions print
# (quit, relaunch, Wine's own errors) goes to msi.out, shown on a failure.
msi() { echo "== msiexec $*" >>"$base/msi.out"; timeout 300 "$W" msiexec "$@" /qn >>"$base/msi.out" 2>&1; }
version() { msiinfo export "$1" Property | tr -d '\r' | sed -n 's/^ProductVersion\t//p'; }
# values KEY: NAME=VALUE lines of a registry key, sorted ("" if none).
values() { "$W" reg query "$1" 2>/dev/null | tr -d '\r' | sed -n 's/^ *\([^ ]*\) *REG_SZ *\(.*\)$/\1=\2/p' | sort | tr '\n' ' '; }
runval() { "$W" reg query "$1\\Software\\Microsoft\\Windows\\CurrentVersion\\Run" /v 'Clinic Sync' 2>/dev/null | tr -d '\r' | sed -n 's/.*REG_SZ *//p'; }
u=$WINEPREFIX/drive_c/users/$(whoami)
data=$u/AppData/Local/ClinicSync
userconf=$u/AppData/Roaming/ClinicSync/config.toml
usermenu="$u/AppData/Roaming/Microsoft/Windows/Start Menu/Programs"
port=$(( 20000 + RANDOM % 20000 ))
url=http://127.0.0.1:$port
root='C:\PMS\Patients'

# status DIR FIELDS...: status --json of DIR's clinicsync-cli.exe, as
# "field=value" for each field asked; sec:key for a key of an object such
# as sources. (sed and awk on Go's two-space indented JSON: CI has no jq
# or python.)
status() {
  local dir=$1 flat f; shift
  flat=$("$W" "$dir/clinicsync-cli.exe" status --json 2>/dev/null | tr -d '\r' | awk '
    function kv(l) { sub(/^ +/, "", l); sub(/,$/, "", l); match(l, /^"[^"]+": /); k = substr(l, 2, RLENGTH - 4); v = substr(l, RLENGTH + 1) }
    /^  "[^"]+": [[{]$/ { match($0, /"[^"]+"/); sec = substr($0, RSTART + 1, RLENGTH - 2); arr = ($0 ~ /\[$/); buf = ""; next }
    /^  []}],?$/ { if (arr) print sec "=[" buf "]"; sec = ""; arr = 0; next }
    sec != "" && arr { l = $0; sub(/^ +/, "", l); sub(/,$/, "", l); buf = buf (buf == "" ? "" : ",") l; next }
    sec != "" { kv($0); print sec ":" k "=" v; next }
    /^  "/ { kv($0); print k "=" v }')
  for f in "$@"; do awk -v f="$f=" 'index($0, f) == 1 { print; exit }' <<<"$flat" | tr '\n' ' '; done
}
# running: "VERSION PID EXE ARGS" of the copy holding the data folder, from
# its instance.json, and how many clinicsync processes Wine runs.
running() {
  local j v
  j=$(cat "$data/instance.json" 2>/dev/null)
  v=$(sed -n 's/.*"pid":\([0-9]*\).*"version":"\([^"]*\)".*"exe":"[^"]*\\\\\([^"\\]*\)".*"args":\[\([^]]*\)\].*/\2 \1 \3 \4/p' <<<"$j" | tr -d '"')
  echo "${v:-none} procs=$(procs)"
}
# waitfor WHAT SECONDS CMD...: polls CMD until it succeeds or time is up.
waitfor() {
  local what=$1 secs=$2; shift 2
  local end=$(( $(date +%s) + secs ))
  until "$@"; do
    (( $(date +%s) < end )) || { bad "$what (after ${secs}s: $(running))"; sed 's/^/     | /' "$base/msi.out" | tail -15; return 1; }
    sleep 0.3
  done
}
startapp() {
  # clinicsync.exe, the GUI-subsystem exe the tray app is (this headless
  # build has no tray, so `run`): relaunch starts the same exe again. The
  # console exe, relaunched from msiexec, is sometimes ended under Wine
  # when msiexec's console goes (Go sees CTRL_CLOSE_EVENT as SIGTERM).
  setsid "$W" "$1/clinicsync.exe" run >>"$base/run.log" 2>&1 </dev/null &
  waitfor "$2 runs" 30 isrunning "$2"
}
# isrunning VERSION: exactly one copy runs, and it is VERSION.
isrunning() { local r; r=$(running); [[ $r == "$1 "*" procs=1" ]]; }
notrunning() { [ "$(procs)" = 0 ]; }
# procs: how many clinicsync processes Wine runs (started from here their
# command line is a Unix path, from msiexec a Windows one).
procs() { pgrep -fic 'clinicsync(-cli)?\.exe'; }
# exever DIR: the version DIR's program says it is (main.version).
exever() { "$W" "$1/clinicsync-cli.exe" version 2>/dev/null | tr -d '\r' | sed -n 's/^clinicsync //p'; }

# context NAME INSTALLDIR HIVE MENU ALLUSERS...: the whole round in one context.
context() {
  local name=$1 dir=$2 hive=$3 menu=$4; shift 4
  local t0; t0=$(date +%s)
  echo "-- $name"
  msi /i "$OLD" "$@" "DESTINATION_ROOT=$root" "API_URL=$url" LOCK=DESTINATION_ROOT && ok "install $(version "$OLDF") with DESTINATION_ROOT, API_URL, LOCK" || bad "install"
  [ -f "$dir/clinicsync.exe" ] && [ -f "$dir/clinicsync-cli.exe" ] && ok "both exes in ${dir#"$WINEPREFIX/drive_c/"}" || bad "exes not in $dir"
  if [ -f "$menu/Clinic Sync.lnk" ]; then ok "Start menu shortcut in ${menu#"$WINEPREFIX/drive_c/"}"
  elif [ "$hive" = HKLM ] && [ -f "$usermenu/Clinic Sync.lnk" ]; then
    # Wine's ProgramMenuFolder stays the user's with ALLUSERS=1; Windows
    # Installer's is the common Start menu (Microsoft's ProgramMenuFolder docs).
    menu=$usermenu; ok "Start menu shortcut in the user's menu (Wine; Windows: the common menu)"
  else bad "no shortcut in $menu"; fi
  local other=HKCU; [ "$hive" = HKCU ] && other=HKLM
  local want="API_URL=$url DESTINATION_ROOT=$root LOCK=DESTINATION_ROOT "
  [ "$(values "$hive\\Software\\ClinicSync")" = "$want" ] && ok "only the given properties in $hive\\Software\\ClinicSync: $want" \
    || bad "$hive\\Software\\ClinicSync: '$(values "$hive\\Software\\ClinicSync")'"
  [ -z "$(values "$other\\Software\\ClinicSync")" ] && ok "nothing in $other\\Software\\ClinicSync" || bad "$other\\Software\\ClinicSync: $(values "$other\\Software\\ClinicSync")"
  local rv; rv=$(runval "$hive")
  [ "$rv" = "\"$(echo "$dir" | sed "s|^$WINEPREFIX/drive_c/|C:/|" | tr / '\\')\\clinicsync.exe\" --hidden --at-login" ] && ok "$hive Run value: $rv" || bad "$hive Run value: '$rv'"
  [ -z "$(runval "$other")" ] && ok "no $other Run value" || bad "$other Run value: $(runval "$other")"

  local s want
  s=$(status "$dir" api_url destination sources:askara.api_url sources:destination.root locked policy_from:destination.root)
  want="api_url=\"$url\" destination=\"C:\\\\PMS\\\\Patients\" sources:askara.api_url=\"policy\" sources:destination.root=\"policy\" locked=[\"destination.root\"] policy_from:destination.root=\"$hive\\\\Software\\\\ClinicSync\" "
  [ "$s" = "$want" ] && ok "status --json: $s" || bad "status --json: $s, want $want"
  mkdir -p "$(dirname "$userconf")"
  printf '[askara]\napi_url = "http://127.0.0.1:1"\n\n[destination]\nroot = '"'"'C:\\Elsewhere'"'"'\n' >"$userconf"
  s=$(status "$dir" destination sources:destination.root api_url sources:askara.api_url)
  want="destination=\"C:\\\\PMS\\\\Patients\" sources:destination.root=\"policy\" api_url=\"http://127.0.0.1:1\" sources:askara.api_url=\"user file\" "
  [ "$s" = "$want" ] && ok "a user config.toml saying otherwise: locked root kept, unlocked URL is the user's: $s" || bad "with a user config: $s, want $want"
  rm -f "$userconf"

  local oldver newver
  oldver=$(exever "$dir")
  startapp "$dir" "$oldver" && ok "running: $(running)"
  msi /i "$NEW" "$@" && ok "upgrade to $(version "$NEWF") while it runs, no properties given" || bad "upgrade"
  newver=$(exever "$dir")
  [ -n "$newver" ] && [ "$newver" != "$oldver" ] || bad "the installed program is $newver, was $oldver"
  waitfor "NEW runs after the upgrade" 30 isrunning "$newver" && ok "after the upgrade: $(running)"
  [ "$(values "$hive\\Software\\ClinicSync")" = "API_URL=$url DESTINATION_ROOT=$root LOCK=DESTINATION_ROOT " ] && ok "presets kept by the upgrade" \
    || bad "presets after the upgrade: '$(values "$hive\\Software\\ClinicSync")'"
  local pid1; pid1=$(running | cut -d' ' -f2)
  # Repair: Wine 8's msiexec refuses /fa (exit 69 with the package, 1 with
  # the product code); REINSTALL=ALL is what /f sets in Windows Installer.
  msi /i "$NEW" "$@" REINSTALL=ALL REINSTALLMODE=amus && ok "repair (REINSTALL=ALL REINSTALLMODE=amus)" || bad "repair"
  waitfor "NEW runs again after the repair" 30 isrunning "$newver" && [ "$(running | cut -d' ' -f2)" != "$pid1" ] \
    && ok "after the repair: $(running)" || bad "after the repair: $(running) (before: pid $pid1)"
  [ "$(values "$hive\\Software\\ClinicSync")" = "API_URL=$url DESTINATION_ROOT=$root LOCK=DESTINATION_ROOT " ] && ok "presets kept by the repair" \
    || bad "presets after the repair: '$(values "$hive\\Software\\ClinicSync")'"
  msi /x "$NEW" && ok "uninstall" || bad "uninstall"
  waitfor "the app to quit on uninstall" 30 notrunning && ok "nothing runs after the uninstall"
  [ ! -e "$dir" ] && ok "program folder removed" || bad "program folder left: $(ls "$dir")"
  [ -z "$(values "$hive\\Software\\ClinicSync")" ] && ok "presets removed" || bad "presets left: $(values "$hive\\Software\\ClinicSync")"
  [ -z "$(runval "$hive")" ] && ok "Run value removed" || bad "Run value left: $(runval "$hive")"
  [ ! -e "$menu/Clinic Sync.lnk" ] && ok "shortcut removed" || bad "shortcut left"
  [ -f "$data/state.db" ] && ok "data folder kept" || bad "data folder removed"
  echo "   ($name: $(( $(date +%s) - t0 )) s)"
}

context "per user" "$u/AppData/Local/Programs/Clinic Sync" HKCU "$usermenu"
context "per machine (ALLUSERS=1)" "$WINEPREFIX/drive_c/Program Files/Clinic Sync" HKLM \
  "$WINEPREFIX/drive_c/ProgramData/Microsoft/Windows/Start Menu/Programs" ALLUSERS=1
echo "msi-wine-it: $(( $(date +%s) - start )) s"
exit $fail
