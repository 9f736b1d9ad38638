#!/usr/bin/env bash
# Screenshots of the real app: `clinicsync demo` (simulator + window) under
# Xvfb, one PNG per tab in English, French (*-fr) and the light theme
# (*-light), Documents after Retry, Settings at a 1366×768 laptop's size,
# the first-run setup's steps, the Account tab's sign-in fallbacks, and
# the tray menu as Fyne draws it (Xvfb has no tray host). Output:
# docs/screenshots/*.png. Needs xvfb, xdotool and imagemagick (make deps
# installs them).
set -euo pipefail

# setup_shots BIN: the first-run setup, one PNG per step (setup-*.png). It
# runs inside a private D-Bus session (see the end of this script) with a
# keychain (gnome-keyring) and no tray host. The app starts with a file
# that only points at the simulator (with its sign-in), as an IT person
# might leave it: every step shows. The browser is a stand-in xdg-open
# that fetches the sign-in page; the simulator approves at once.
# private_home TMP: a home, XDG folders and an unlocked keychain of its own
# in TMP (inside the script's private D-Bus session).
private_home() {
  mkdir -p "$1/bin" "$1/home" "$1/run"
  chmod 700 "$1/run"
  export HOME=$1/home XDG_DATA_HOME=$1/home/.local/share XDG_CONFIG_HOME=$1/home/.config XDG_RUNTIME_DIR=$1/run
  eval "$(printf clinicsync | gnome-keyring-daemon --unlock --components=secrets)"
}

setup_shots() {
  local bin=$1 tmp port win
  tmp=$(mktemp -d /tmp/clinicsync-setup-XXXX)
  mkdir -p "$tmp/YourSoftware/Documents/Patients"
  private_home "$tmp"
  printf '#!/bin/sh\ncurl -fsL "$1" >/dev/null 2>&1 &\n' >"$tmp/bin/xdg-open"
  chmod +x "$tmp/bin/xdg-open"
  port=$((18700 + RANDOM % 1000))
  "$bin" sim --listen "127.0.0.1:$port" --oauth --auto-approve --documents 6 --patients 3 >/dev/null 2>&1 &
  local sim=$!
  shot() { sleep 1.5; import -window "$win" "$out/setup-$1.png"; echo "wrote $out/setup-$1.png"; }
  click() { xdotool mousemove --window "$win" "$1" "$2" click 1; }
  next() { click 930 613; }
  # A file with problems: the setup opens at the folder, and says what
  # only the file can correct.
  printf '[askara]\npoll_interval = "5s"\n[destination]\nroot = "Patients"\n' >"$tmp/config.toml"
  CLINICSYNC_CONFIG=$tmp/config.toml CLINICSYNC_DATA_DIR=$tmp/data "$bin" >/dev/null 2>&1 &
  local app=$!
  win=$(timeout 60 xdotool search --sync --name '^Clinic Sync$' | head -1)
  xdotool windowmove "$win" 0 0
  shot problem
  kill $app; wait $app 2>/dev/null || true
  while xdotool search --name '^Clinic Sync$' >/dev/null; do sleep 0.2; done
  cat >"$tmp/config.toml" <<TOML
[askara]
api_url = "http://127.0.0.1:$port"
authorize_url = "http://127.0.0.1:$port/authorize"
token_url = "http://127.0.0.1:$port/oauth2/token"
redirect_port = 0
TOML
  PATH=$tmp/bin:$PATH CLINICSYNC_CONFIG=$tmp/config.toml CLINICSYNC_DATA_DIR=$tmp/data "$bin" >/dev/null 2>&1 &
  app=$!
  win=$(timeout 60 xdotool search --sync --name '^Clinic Sync$' | head -1)
  xdotool windowmove "$win" 0 0
  shot 1-sign-in
  click 57 233; shot 2-signed-in          # Sign in…: the stand-in browser approves
  next; click 400 175
  xdotool type --delay 5 "$tmp/YourSoftware/Documents/Patient"; shot 3-folder-missing
  xdotool type s; shot 4-folder
  next; click 23 210; click 23 175; shot 5-pattern
  next; shot 6-done
  click 860 613; sleep 4; shot 7-syncing   # Finish: the window shows its tabs, documents arrive
  kill $app $sim; wait $app $sim 2>/dev/null || true
}

# signin_shots BIN: the Account tab's sign-in where the PC allows little
# (signin-*.png): no browser can be started (a stand-in xdg-open that
# fails), and the sign-in's redirect port is held by another program (the
# simulator itself listens on it), so Sign in… becomes a code sign-in
# (signin-code.png); then with the port free, Sign in… shows the page's
# address with Copy (signin-link.png). The file sets the folder and the
# pattern: no setup; Ctrl+5 shows the Account tab.
signin_shots() {
  local bin=$1 tmp port win app sim
  tmp=$(mktemp -d /tmp/clinicsync-signin-XXXX)
  mkdir -p "$tmp/Patients"
  private_home "$tmp"
  printf '#!/bin/sh\nexit 3\n' >"$tmp/bin/xdg-open"
  chmod +x "$tmp/bin/xdg-open"
  port=$((18700 + RANDOM % 1000))
  "$bin" sim --listen "127.0.0.1:$port" --oauth --documents 6 --patients 3 >/dev/null 2>&1 &
  sim=$!
  for redirect in "$port" 0; do
    cat >"$tmp/config.toml" <<TOML
[askara]
api_url = "http://127.0.0.1:$port"
authorize_url = "http://127.0.0.1:$port/authorize"
token_url = "http://127.0.0.1:$port/oauth2/token"
device_url = "http://127.0.0.1:$port/oauth2/device"
redirect_port = $redirect
[destination]
root = "$tmp/Patients"
patient_folder = "{LASTNAME}_{FIRSTNAME}"
TOML
    PATH=$tmp/bin:$PATH CLINICSYNC_CONFIG=$tmp/config.toml CLINICSYNC_DATA_DIR=$tmp/data "$bin" >/dev/null 2>&1 &
    app=$!
    win=$(timeout 60 xdotool search --sync --name '^Clinic Sync$' | head -1)
    xdotool windowmove "$win" 0 0
    sleep 2
    xdotool windowfocus --sync "$win"
    xdotool key ctrl+5 # the Account tab
    sleep 1
    xdotool mousemove --window "$win" 57 282 click 1 # Sign in…
    sleep 2.5
    if [ "$redirect" = 0 ]; then name=link; else name=code; fi
    import -window "$win" "$out/signin-$name.png"
    echo "wrote $out/signin-$name.png"
    kill $app; wait $app 2>/dev/null || true
    while xdotool search --name '^Clinic Sync$' >/dev/null; do sleep 0.2; done
  done
  kill $sim; wait $sim 2>/dev/null || true
}
if [ "${1:-}" = --setup-shots ]; then
  out=$3
  setup_shots "$2"
  exit
fi
if [ "${1:-}" = --signin-shots ]; then
  out=$3
  signin_shots "$2"
  exit
fi

self=$(realpath "$0")
cd "$(dirname "$0")/.."
out=docs/screenshots
mkdir -p "$out"
bin=$(mktemp -d)/clinicsync
go build -o "$bin" ./cmd/clinicsync

# A 1366×768 screen: a common clinic laptop's. The window opens at its
# default size (980×640); settings-laptop.png is the window as large as
# that screen allows less a taskbar (48 px) and a title bar (32 px).
display=:$((90 + RANDOM % 9))
Xvfb "$display" -noreset -screen 0 1366x768x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
app=
trap 'kill $app $xvfb 2>/dev/null || true' EXIT
export DISPLAY=$display
unset DBUS_SESSION_BUS_ADDRESS # no tray: the window is what we photograph
sleep 1

shot() { sleep 1; import -window "$win" "$out/$1.png"; echo "wrote $out/$1.png"; }
click() { xdotool mousemove --window "$win" "$1" "$2" click 1; }

# tabs SUFFIX SHOW TABS...: the demo's window in the language and theme of
# the environment, one PNG per tab (name$SUFFIX.png). SHOW is the x of the
# header's Show button (it follows the state's text); TABS are the x of
# the tab buttons, Activity to Diagnostics.
tabs() {
  local suffix=$1 show=$2
  shift 2
  local log
  log=$(mktemp)
  "$bin" demo --documents 18 >"$log" 2>&1 &
  app=$!
  win=$(timeout 60 xdotool search --sync --name 'Clinic Sync' | head -1)
  xdotool windowmove "$win" 0 0
  sleep 4 # the first pass, and the broken document failing
  # A line selected: shown whole below the list, with Copy.
  click "$1" 121; click 600 238; shot "activity$suffix"
  # The header's Show button: the failed document, selected, with Retry.
  click "$show" 25; shot "documents$suffix"
  click "$2" 121; shot "notes$suffix"
  click "$3" 121; shot "settings$suffix"
  if [ -z "$suffix" ]; then
    xdotool windowsize "$win" 1366 688; shot settings-laptop
    xdotool windowsize "$win" 980 640
  fi
  click "$4" 121; shot "account$suffix"
  click "$5" 121; shot "diagnostics$suffix"
  if [ -z "$suffix" ]; then
    # The demo fixes the broken file after 20 s, and Askara takes a retry
    # 30 s after the last: Retry then delivers it, under the Failed filter.
    sleep 20
    click "$show" 25; sleep 1; click 722 536; sleep 3; shot documents-retried
  fi
  kill $app; wait $app 2>/dev/null || true
  app=
  while xdotool search --name '^Clinic Sync' >/dev/null; do sleep 0.2; done
}

LANG=en_US.UTF-8 tabs "" 292 38 205 275 352 441
LANG=fr_FR.UTF-8 tabs -fr 250 38 205 275 352 441
# Fyne follows the system's light or dark setting; Xvfb has none (dark).
LANG=en_US.UTF-8 FYNE_THEME=light tabs -light 292 38 205 275 352 441

export LANG=en_US.UTF-8
dbus-run-session -- "$self" --setup-shots "$bin" "$PWD/$out"
dbus-run-session -- "$self" --signin-shots "$bin" "$PWD/$out"

SCREENSHOTS_DIR=$PWD/$out go test ./app -run '^TestTrayMenuImage$' -count=1 >/dev/null
echo "wrote $out/tray-menu.png"
