#!/usr/bin/env bash
# selfsigned.sh DIR: a throwaway code-signing certificate for CI and tests,
# DIR/clinicsync-test.crt and DIR/clinicsync-test.key (RSA 3072, 30 days).
# Windows does not trust it: for releases use a real code-signing
# certificate (README.md).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
openssl req -x509 -newkey rsa:3072 -sha256 -days 30 -nodes \
  -keyout "$1/clinicsync-test.key" -out "$1/clinicsync-test.crt" \
  -subj "/CN=Clinic Sync Test Signing/O=Clinic Sync" \
  -addext "keyUsage=critical,digitalSignature" \
  -addext "extendedKeyUsage=codeSigning" 2>/dev/null
chmod 600 "$1/clinicsync-test.key"
echo "$1/clinicsync-test.crt"
