# Shared by build.sh, msi.sh and check.sh; sourced, not run.

# winver VERSION prints the numeric a.b.c.d form Windows wants in a
# VERSIONINFO resource (each part 0..65535) and the MSI in ProductVersion:
#   v0.3.1            -> 0.3.1.0
#   v0.3.1-5-gabc1234 -> 0.3.1.5   (git describe: 5 commits after the tag)
#   0.3.1.7[-dirty]   -> 0.3.1.7
# A VERSION without a leading a.b (a bare commit hash from
# `git describe --always`, "dev") takes a.b.c from FyneApp.toml's Version
# and 0 as the fourth part, with a note on standard error.
winver() {
  local v=${1#v} a b c d=0
  if [[ $v =~ ^([0-9]+)\.([0-9]+)(\.([0-9]+))?(\.([0-9]+))? ]]; then
    a=${BASH_REMATCH[1]} b=${BASH_REMATCH[2]} c=${BASH_REMATCH[4]:-0} d=${BASH_REMATCH[6]:-0}
    if [[ $v =~ -([0-9]+)-g[0-9a-f]+ ]]; then d=${BASH_REMATCH[1]}; fi
  else
    local root; root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    local fv; fv=$(sed -n 's/^ *Version *= *"\([0-9.]*\)".*/\1/p' "$root/FyneApp.toml" | head -1)
    [[ $fv =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || { echo "winver: cannot read Version from FyneApp.toml" >&2; return 1; }
    a=${BASH_REMATCH[1]} b=${BASH_REMATCH[2]} c=${BASH_REMATCH[3]}
    echo "winver: '$1' has no a.b.c; using FyneApp.toml's $a.$b.$c.0" >&2
  fi
  local p
  for p in "$a" "$b" "$c" "$d"; do
    if (( 10#$p > 65535 )); then echo "winver: $1: part $p is over 65535" >&2; return 1; fi
  done
  # The MSI ProductVersion allows at most 255 for the first two parts.
  if (( 10#$a > 255 || 10#$b > 255 )); then echo "winver: $1: major and minor must be at most 255 for the MSI" >&2; return 1; fi
  echo "$((10#$a)).$((10#$b)).$((10#$c)).$((10#$d))"
}

# default_version prints `git describe --tags --always --dirty`, or "dev".
default_version() {
  local root; root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev
}

need() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || { echo "missing: $c (see packaging/windows/README.md for the apt packages)" >&2; return 1; }
  done
}
