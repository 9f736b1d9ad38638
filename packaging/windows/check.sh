#!/usr/bin/env bash
# check.sh [WORKDIR]: the Windows packaging end to end, for CI. Builds both
# exes (build.sh; a warm Go cache makes this seconds), checks their PE
# subsystem, version resource, manifest and embedded version, checks that
# assets/icon.ico and the tray ICOs are what icogen.go makes from the PNGs, makes a throwaway
# certificate, signs and verifies both exes, builds the MSI, checks its
# tables, signs and verifies it, and, when Wine is installed, installs,
# upgrades and uninstalls it (msi-wine-test.sh) and runs what IT does with
# it: presets, per machine, upgrade while the app runs (msi-wine-it.sh). Exits non-zero on the first
# failure. WORKDIR (default: a temporary folder, removed) keeps the outputs.
set -euo pipefail
start=$(date +%s)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
need go x86_64-w64-mingw32-gcc x86_64-w64-mingw32-windres x86_64-w64-mingw32-objdump osslsigncode openssl wixl msiinfo msibuild

if [ -n "${1:-}" ]; then work=$1; mkdir -p "$work"; else work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
V=${CHECK_VERSION:-v1.2.3-4-gdeadbee}
num=$(winver "$V")
fail() { echo "check.sh: FAIL: $*" >&2; exit 1; }
step() { echo "== $* ($(( $(date +%s) - start )) s)"; }

step "icon"
(cd "$root" && go run packaging/windows/icogen.go assets/icon.png "$work/icon.ico")
cmp -s "$work/icon.ico" "$root/assets/icon.ico" || fail "assets/icon.ico is stale: go run packaging/windows/icogen.go assets/icon.png assets/icon.ico"
for st in idle syncing attention paused signedout; do
  (cd "$root" && go run packaging/windows/icogen.go -sizes 16,20,24,32,48 "assets/tray-$st.png" "$work/tray-$st.ico")
  cmp -s "$work/tray-$st.ico" "$root/assets/tray-$st.ico" ||
    fail "assets/tray-$st.ico is stale: go run packaging/windows/icogen.go -sizes 16,20,24,32,48 assets/tray-$st.png assets/tray-$st.ico"
done

step "build $V"
"$here/build.sh" "$V" "$work/bin"
[ ! -e "$root/cmd/clinicsync/rsrc_windows_amd64.syso" ] || fail "build.sh left the .syso behind"

# fileversion EXE: VS_FIXEDFILEINFO's FileVersion as a.b.c.d (signature
# 0xFEEF04BD, then StrucVersion, then FileVersionMS and LS, little-endian).
fileversion() {
  local off
  off=$(LC_ALL=C grep -m1 -obUaP '\xbd\x04\xef\xfe' "$1" | cut -d: -f1)
  [ -n "$off" ] || return 1
  od -An -tu2 -j $((off + 8)) -N8 "$1" | awk '{print $2 "." $1 "." $4 "." $3}'
}
# rcstring EXE NAME: a StringFileInfo value (UTF-16 in the resource).
rcstring() { strings -el "$1" | grep -A1 -xF "$2" | sed -n 2p; }

for exe in clinicsync clinicsync-cli; do
  f=$work/bin/$exe.exe
  step "check $exe.exe"
  pe=$(x86_64-w64-mingw32-objdump -p "$f")
  sub=$(printf '%s\n' "$pe" | sed -n 's/^Subsystem[[:space:]]*[0-9a-f]*[[:space:]]*//p')
  want="(Windows GUI)"; [ $exe = clinicsync ] || want="(Windows CUI)"
  [ "$sub" = "$want" ] || fail "$exe.exe subsystem is $sub, want $want"
  [ "$(fileversion "$f")" = "$num" ] || fail "$exe.exe FileVersion is $(fileversion "$f"), want $num"
  [ "$(rcstring "$f" CompanyName)" = "Clinic Sync" ] || fail "$exe.exe CompanyName"
  [ "$(rcstring "$f" ProductName)" = "Clinic Sync" ] || fail "$exe.exe ProductName"
  [ "$(rcstring "$f" FileVersion)" = "$num" ] || fail "$exe.exe FileVersion string"
  [ "$(rcstring "$f" ProductVersion)" = "$V" ] || fail "$exe.exe ProductVersion string"
  [ "$(rcstring "$f" OriginalFilename)" = "$exe.exe" ] || fail "$exe.exe OriginalFilename"
  for m in 'level="asInvoker"' 'PerMonitorV2' '8e0f7a12-bfb3-4fe8-b9a5-48fd50a15a9a'; do
    grep -qaF "$m" "$f" || fail "$exe.exe manifest lacks $m"
  done
  grep -qaF "$V" "$f" || fail "$exe.exe does not embed main.version $V"
  grep -q 'Resource Directory \[\.rsrc\]' <<<"$pe" || fail "$exe.exe has no resources"
  echo "$exe.exe: $sub, file version $(fileversion "$f"), $(rcstring "$f" FileDescription)"
done

step "sign the exes"
"$here/selfsigned.sh" "$work/cert" >/dev/null
crt=$work/cert/clinicsync-test.crt key=$work/cert/clinicsync-test.key
for exe in clinicsync clinicsync-cli; do
  "$here/sign.sh" "$work/bin/$exe.exe" "$work/signed/$exe.exe" "$crt" "$key"
done
grep -q 'Text description: Clinic Sync' <<<"$(osslsigncode verify -CAfile "$crt" -in "$work/signed/clinicsync.exe" 2>&1)" || fail "signature lacks the description"

step "MSI"
"$here/msi.sh" "$work/signed" "$work/ClinicSync.msi" "$V"
m=$work/ClinicSync.msi
for t in Property Registry Shortcut Directory File Upgrade Component; do
  msiinfo export "$m" "$t" | tr -d '\r' >"$work/$t.idt"
done
for t in CustomAction InstallExecuteSequence; do msiinfo export "$m" "$t" | tr -d '\r' >"$work/$t.idt"; done
! grep -q $'^AUTOSTART\t' "$work/Property.idt" || fail "MSI: AUTOSTART has a default (a property not given must write nothing)"
grep -qxF "UpgradeCode"$'\t'"{E0996493-79CD-450E-8FCB-D5E3A1445A2F}" "$work/Property.idt" || fail "MSI: UpgradeCode changed"
! grep -q '^ALLUSERS' "$work/Property.idt" || fail "MSI: ALLUSERS set (per user must be the default)"
wc=$(msiinfo suminfo "$m" | sed -n 's/^Source: \([0-9]*\).*/\1/p')
(( (wc & 8) == 8 )) || fail "MSI: Word Count $wc lacks 8 (no elevation needed)"
# Every registry value is HKMU (-1: HKCU per user, HKLM per machine; msi.sh
# fixes wixl's 4) and every component 64-bit (HKLM's 64-bit view, which
# the program reads).
! awk -F'\t' 'NR > 3 && $2 != "-1"' "$work/Registry.idt" | grep -q . || fail "MSI: a registry value not under HKMU: $(awk -F'\t' 'NR > 3 && $2 != "-1"' "$work/Registry.idt")"
! awk -F'\t' 'NR > 3 && int($4 / 256) % 2 == 0' "$work/Component.idt" | grep -q . || fail "MSI: a 32-bit component"
grep -qF $'Software\\Microsoft\\Windows\\CurrentVersion\\Run\tClinic Sync\t"[INSTALLDIR]clinicsync.exe" --hidden --at-login\tStartAtLogin' "$work/Registry.idt" || fail "MSI: Run value"
grep -qF $'ProgramMenuFolder\tClinic Sync\tStartMenuShortcut\t[INSTALLDIR]clinicsync.exe' "$work/Shortcut.idt" || fail "MSI: Start menu shortcut"
msiinfo export "$m" MsiShortcutProperty | grep -qF $'ClinicSyncShortcut\tSystem.AppUserModel.ID\tapp.clinicsync.desktop' \
  || fail "MSI: the shortcut lacks the AppUserModelID (notifications)"
grep -qF $'INSTALLDIR\tProgramFiles64Folder\tClinic Sync' "$work/Directory.idt" || fail "MSI: per-machine folder not %ProgramFiles%\\Clinic Sync"
grep -qF $'PerUserDir\t51\tINSTALLDIR\t[LocalAppDataFolder]Programs\\Clinic Sync\\' "$work/CustomAction.idt" || fail "MSI: per-user folder not %LocalAppData%\\Programs\\Clinic Sync"
grep -qF $'PerUserDir\tNOT ALLUSERS AND NOT INSTALLDIR' "$work/InstallExecuteSequence.idt" || fail "MSI: PerUserDir condition"
for a in $'QuitForUpdate\t114\tAPPEXE\tquit --for-update' $'Relaunch\t114\tAPPEXE\trelaunch' $'SetAppExe\t51\tAPPEXE\t[INSTALLDIR]clinicsync.exe'; do
  grep -qF "$a" "$work/CustomAction.idt" || fail "MSI: custom action ${a%%$'\t'*}"
done
# The presets: exactly the names sync/config's policy layer reads (its
# PolicyNames, and LOCK), each a conditioned component writing its value
# under Software\ClinicSync, read back by AppSearch, passed as secure.
want=$( (sed -n '/^var PolicyNames/,/^}/p' "$root/sync/config/policy.go" | grep -o '"[A-Z_]*":' | tr -d '":'; echo LOCK) | sort | tr '\n' ' ')
have=$(sed -n 's/^Preset_\([A-Z_]*\)\t.*/\1/p' "$work/Component.idt" | sort | tr '\n' ' ')
[ "$have" = "$want" ] || fail "MSI presets are '$have', the policy layer reads '$want'"
secure=$(sed -n 's/^SecureCustomProperties\t//p' "$work/Property.idt")
for p in $want; do
  grep -qP "^Preset_$p\t[^\t]*\tINSTALLDIR\t\d+\t$p\t" "$work/Component.idt" || fail "MSI: Preset_$p has no condition $p"
  grep -qF $'Software\\ClinicSync\t'"$p"$'\t['"$p"$']\tPreset_'"$p" "$work/Registry.idt" || fail "MSI: no value $p"
  grep -qF $'\tSoftware\\ClinicSync\t'"$p"$'\t' <(msiinfo export "$m" RegLocator | tr -d '\r') || fail "MSI: $p is not read back"
  [[ ";$secure;" == *";$p;"* ]] || fail "MSI: $p is not in SecureCustomProperties"
done
grep -q 'clinicsync-cli.exe' "$work/File.idt" || fail "MSI: no clinicsync-cli.exe"
grep -q 'WIX_DOWNGRADE_DETECTED' "$work/Upgrade.idt" || fail "MSI: no downgrade detection"
step "sign the MSI"
"$here/sign.sh" "$m" "$m" "$crt" "$key"

if [ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null 2>&1; then
  step "MSI under Wine"
  IFS=. read -r a b c d <<<"$num"
  "$here/msi.sh" "$work/signed" "$work/same.msi" "$a.$b.$c.$((d + 1))" >/dev/null
  # The next version's exes say they are (main.version), so that the
  # upgrade test sees which one runs.
  "$here/build.sh" "v$a.$((b + 1)).0" "$work/bin2" >/dev/null
  "$here/msi.sh" "$work/bin2" "$work/next.msi" "v$a.$((b + 1)).0" >/dev/null
  "$here/msi-wine-test.sh" "$m" "$work/same.msi" "$work/next.msi" || fail "MSI under Wine"
  step "IT: presets, per machine, upgrade while running, under Wine"
  "$here/msi-wine-it.sh" "$m" "$work/next.msi" || fail "MSI for IT under Wine"
else
  echo "(wine64 not installed: install/upgrade/uninstall test skipped)"
fi
echo "check.sh: Windows packaging ok in $(( $(date +%s) - start )) s"
