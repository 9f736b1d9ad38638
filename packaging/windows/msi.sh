#!/usr/bin/env bash
# msi.sh BINDIR OUT.msi [VERSION]: the MSI (per user by default, per machine
# with ALLUSERS=1) from clinicsync.wxs with wixl (Debian package wixl;
# msiinfo and msibuild come with msitools). BINDIR holds
# clinicsync.exe and clinicsync-cli.exe (sign them first: sign.sh); VERSION
# defaults to `git describe` and becomes the MSI ProductVersion a.b.c.d.
# Sign the MSI afterwards with sign.sh too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
[ $# -ge 2 ] || { echo "usage: $0 BINDIR OUT.msi [VERSION]" >&2; exit 2; }
BINDIR=$1 OUT=$2
VERSION=${3:-$(default_version)}
need wixl msiinfo msibuild
num=$(winver "$VERSION")
IFS=. read -r a b c _ <<<"$num"
next=$a.$b.$((c + 1))

# wixl resolves Source paths relative to the .wxs and refuses absolute
# ones, so everything is staged in one folder.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$here/clinicsync.wxs" "$stage/"
cp "$root/assets/icon.ico" "$stage/icon.ico"
mkdir "$stage/bin"
cp "$BINDIR/clinicsync.exe" "$BINDIR/clinicsync-cli.exe" "$stage/bin/"
mkdir -p "$(dirname "$OUT")"
OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
# wixl prints GLib warnings for attributes it does not know; any is a bug
# in clinicsync.wxs here, so they fail the build.
(cd "$stage" && wixl -a x64 -D Version="$num" -D NextVersion="$next" -D BinDir=bin -D IconFile=icon.ico \
  -o out.msi clinicsync.wxs) 2>"$stage/wixl.log" || { cat "$stage/wixl.log" >&2; exit 1; }
if grep -q . "$stage/wixl.log"; then cat "$stage/wixl.log" >&2; echo "msi.sh: wixl warned; fix clinicsync.wxs" >&2; exit 1; fi
# What wixl 0.101 cannot write, set in the tables afterwards (msibuild):
# - Registry Root HKMU: wixl writes 4, which is no root; Windows Installer's
#   -1 is HKCU per user and HKLM per machine (ALLUSERS=1).
# - Component conditions (wixl has no Component/Condition): each preset's
#   component (Preset_NAME) is installed only when property NAME has a value,
#   so a property not given writes nothing.
# - SecureCustomProperties: the presets pass from the client to the
#   elevated installer service in a per-machine install.
m=$stage/out.msi
presets=$(msiinfo export "$m" Component | tr -d '\r' | sed -n 's/^Preset_\([A-Z_]*\)\t.*/\1/p')
[ -n "$presets" ] || { echo "msi.sh: no Preset_ components in clinicsync.wxs" >&2; exit 1; }
secure=$(msiinfo export "$m" Property | tr -d '\r' | sed -n 's/^SecureCustomProperties\t//p')
q=("UPDATE \`Registry\` SET \`Root\` = -1 WHERE \`Root\` = 4")
for p in $presets; do
  q+=("UPDATE \`Component\` SET \`Condition\` = '$p' WHERE \`Component\` = 'Preset_$p'")
  secure=${secure:+$secure;}$p
done
q+=("UPDATE \`Property\` SET \`Value\` = '$secure' WHERE \`Property\` = 'SecureCustomProperties'")
args=()
for s in "${q[@]}"; do args+=(-q "$s"); done
msibuild "$m" "${args[@]}"
# The Start menu shortcut carries Clinic Sync's AppUserModelID
# (FyneApp.toml's ID, app/toast.AppID): Windows then shows the app's
# notifications as "Clinic Sync" with its icon. WiX says this with
# <ShortcutProperty> in clinicsync.wxs, which wixl 0.101 refuses ("unhandled
# child Shortcut node"), so the MsiShortcutProperty row (Windows Installer
# 5.0) is added to the built MSI here.
msibuild "$m" \
  -q 'CREATE TABLE `MsiShortcutProperty` (`MsiShortcutProperty` CHAR(72) NOT NULL, `Shortcut_` CHAR(72) NOT NULL,
      `PropertyKey` CHAR(0) NOT NULL, `PropVariantValue` CHAR(0) NOT NULL PRIMARY KEY `MsiShortcutProperty`)' \
  -q "INSERT INTO \`MsiShortcutProperty\` (\`MsiShortcutProperty\`, \`Shortcut_\`, \`PropertyKey\`, \`PropVariantValue\`)
      VALUES ('ClinicSyncAUMID', 'ClinicSyncShortcut', 'System.AppUserModel.ID', 'app.clinicsync.desktop')"
mv "$m" "$OUT"
props=$(msiinfo export "$OUT" Property | tr -d '\r')
grep -qxF "ProductVersion"$'\t'"$num" <<<"$props" || { echo "msi.sh: ProductVersion is not $num" >&2; exit 1; }
echo "$OUT: Clinic Sync $num ($(du -h "$OUT" | cut -f1))"
