#!/usr/bin/env bash
# sign.sh IN OUT CERT KEY: Authenticode-sign an .exe or .msi with
# osslsigncode (SHA-256, description "Clinic Sync"), then verify it.
#   CERT KEY   PEM certificate (chain) and private key, e.g. from selfsigned.sh
#   CERT -     a PKCS#12 file (.pfx/.p12) holding certificate and key; its
#              password from the environment variable PFX_PASSWORD (or none)
# Environment:
#   TSA_URL    RFC 3161 timestamp server (e.g. http://timestamp.digicert.com);
#              off by default: the build machines have no network. Release
#              builds should set it, or the signature dies with the certificate.
#   CAFILE     CA bundle for the verification; default: CERT for a PEM
#              certificate (a self-signed one is its own CA), the system
#              bundle for a PKCS#12 file.
# IN and OUT may be the same file.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
[ $# -eq 4 ] || { echo "usage: $0 IN OUT CERT KEY   (KEY '-' with a .pfx/.p12 CERT)" >&2; exit 2; }
IN=$1 OUT=$2 CERT=$3 KEY=$4
need osslsigncode
case $CERT in
  *.pfx|*.p12)
    creds=(-pkcs12 "$CERT")
    [ -z "${PFX_PASSWORD:-}" ] || creds+=(-pass "$PFX_PASSWORD")
    cafile=${CAFILE:-/etc/ssl/certs/ca-certificates.crt} ;;
  *)
    creds=(-certs "$CERT" -key "$KEY")
    cafile=${CAFILE:-$CERT} ;;
esac
ts=()
[ -z "${TSA_URL:-}" ] || ts=(-ts "$TSA_URL")
mkdir -p "$(dirname "$OUT")"
tmp=$(mktemp "$(dirname "$OUT")/.sign.XXXXXX")
trap 'rm -f "$tmp"' EXIT
rm -f "$tmp" # osslsigncode will not overwrite
osslsigncode sign "${creds[@]}" -h sha256 -n "Clinic Sync" -i "https://github.com/clinicsync/clinicsync" \
  "${ts[@]}" -in "$IN" -out "$tmp" >/dev/null
mv "$tmp" "$OUT"
if ! out=$(osslsigncode verify -CAfile "$cafile" -in "$OUT" 2>&1); then
  echo "$out" >&2
  echo "sign.sh: $OUT: signature does not verify" >&2
  exit 1
fi
signer=$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*Subject: //p' | head -1)
grep -q '^Signature verification: ok' <<<"$out" || { echo "$out" >&2; exit 1; }
echo "$OUT: signed by $signer; verified${TSA_URL:+ (timestamped)}"
