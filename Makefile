# Clinic Sync. `make demo` runs the app, `make test` runs every check CI runs.
GO       ?= go
# Engine packages: everything but the GUI (app) and the wiring (cmd). They
# build and test without cgo. The app package does not import Fyne's cgo
# driver (cmd does), so it builds and tests without cgo too.
ENGINE   := . ./store/... ./sync/...
APP      := ./app/...
# Fuzzing runs a fixed number of inputs per target: a time limit can end a
# run while the fuzzer is minimising a new input, which Go reports as a
# failure ("context deadline exceeded").
FUZZTIME ?= 20000x
# The version the binaries print (clinicsync --version): from git.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
# System packages for the Fyne/cgo build on Debian/Ubuntu (build-notes.md).
# gnome-keyring and dbus-x11 give the real keychain test a Secret Service.
# xvfb, xauth, xdotool and imagemagick run the real window in the GUI
# tests and `make screenshots`; wine64 and mingw run the Windows build in
# `make windows-smoke`.
# Running the app needs only the first line (RUN_PKGS); the tests need all.
RUN_PKGS := gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev \
            libxinerama-dev libxi-dev libxxf86vm-dev libgl-dev
APT_PKGS := $(RUN_PKGS) gnome-keyring dbus-x11 \
            xvfb xauth x11-utils xdotool imagemagick \
            wine64 gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 osslsigncode wixl msitools

.PHONY: deps demo first-build-note test check fmt vet fuzz keychain-test bench build clean screenshots windows-smoke \
        windows windows-sign msi windows-check windows-package-check

## deps: install the system packages the build needs (Debian/Ubuntu; skipped elsewhere)
deps:
	@if command -v dpkg >/dev/null 2>&1; then \
	  missing=$$(for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    echo "installing:" $$missing; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	  fi; \
	fi

## demo: the tray app against the built-in simulator, in a temporary folder
demo:
	@$(MAKE) --no-print-directory deps APT_PKGS="$(RUN_PKGS)"
	@$(MAKE) --no-print-directory first-build-note
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/clinicsync demo

## build: the clinicsync binary in ./bin
build:
	@$(MAKE) --no-print-directory deps APT_PKGS="$(RUN_PKGS)"
	@$(MAKE) --no-print-directory first-build-note NOTE_FLAGS=-trimpath
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/clinicsync ./cmd/clinicsync

# first-build-note: the first cgo build compiles the window's C parts (GLFW,
# OpenGL) and prints nothing for minutes; say so first, when the build cache
# does not hold them yet for these build flags (NOTE_FLAGS: -trimpath for build).
first-build-note:
	@if [ -n "$$($(GO) list $(NOTE_FLAGS) -deps -f '{{if and .Stale .CgoFiles (not .Standard)}}{{.ImportPath}}{{end}}' ./cmd/clinicsync 2>/dev/null)" ]; then \
	  echo "First build: the window's C parts (GLFW, OpenGL, through cgo) compile first. This takes a few minutes"; \
	  echo "with no output (about 4 1/2 minutes on a 2-core PC); later builds take seconds."; \
	fi

## test: gofmt, go vet, cgo-free builds (linux, windows, darwin) and tests, race tests of the engine and UI packages, command and GUI process tests, the real keychain, short fuzzing
test: deps fmt vet
	CGO_ENABLED=0 $(GO) build $(ENGINE) $(APP) ./cmd/...
	CGO_ENABLED=0 $(GO) vet $(ENGINE) $(APP)
	CGO_ENABLED=0 GOOS=windows $(GO) build $(ENGINE) $(APP) ./cmd/...
	CGO_ENABLED=0 GOOS=windows $(GO) vet $(ENGINE) $(APP) ./cmd/...  # the tests too: a Unix-only call in one breaks nothing here
	CGO_ENABLED=0 GOOS=darwin $(GO) build $(ENGINE) ./app/autostart ./app/instance  # Fyne needs cgo on macOS
	CGO_ENABLED=0 GOOS=darwin $(GO) vet $(ENGINE) ./app/autostart ./app/instance
	CGO_ENABLED=0 $(GO) test -count=1 -timeout 15m $(ENGINE) $(APP)
	$(GO) test -race -count=1 -timeout 15m $(ENGINE) $(APP)
	$(GO) test -count=1 -timeout 15m ./cmd/...
	$(MAKE) --no-print-directory keychain-test
	$(MAKE) --no-print-directory windows-smoke
	$(MAKE) --no-print-directory windows-package-check
	$(MAKE) --no-print-directory fuzz

## check: the quick everyday check (a few minutes, no system packages): gofmt, vet, the cgo-free tests of the engine and UI packages, the engine's race tests; no GUI process tests, Wine, keychain or fuzzing (make test runs those)
check: fmt
	CGO_ENABLED=0 $(GO) vet $(ENGINE) $(APP) ./cmd/...
	CGO_ENABLED=0 $(GO) test -count=1 -timeout 10m $(ENGINE) $(APP)
	$(GO) test -race -count=1 -timeout 15m $(ENGINE)

## keychain-test: the sign-in tests against a real Secret Service (gnome-keyring in a private D-Bus session)
keychain-test:
	@if command -v dbus-run-session >/dev/null 2>&1 && command -v gnome-keyring-daemon >/dev/null 2>&1; then \
	  GOCACHE=$$($(GO) env GOCACHE) GOMODCACHE=$$($(GO) env GOMODCACHE) GOPATH=$$($(GO) env GOPATH) \
	  dbus-run-session -- bash -c 'set -eo pipefail; \
	    export HOME=$$(mktemp -d) XDG_DATA_HOME=$$(mktemp -d) XDG_RUNTIME_DIR=$$(mktemp -d); \
	    chmod 700 "$$XDG_RUNTIME_DIR"; \
	    eval "$$(printf clinicsync | gnome-keyring-daemon --unlock --components=secrets)"; \
	    $(GO) test -count=1 -tags realkeyring ./sync/auth/; \
	    $(GO) test -count=1 -tags realkeyring -run RealKeychain -v ./cmd/clinicsync/ | grep -E "^(---|ok|FAIL|PASS)|after the kill"'; \
	else echo "keychain-test skipped: install gnome-keyring and dbus-x11 (make deps does)"; fi

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## fuzz: every fuzz target briefly, as go test -list finds them in each package with one (their corpora live in testdata/fuzz)
fuzz:
	@for p in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  list=$$($(GO) test -list '^Fuzz' $$p/ 2>&1) || { echo "$$list"; exit 1; }; \
	  for f in $$(echo "$$list" | grep '^Fuzz'); do \
	    out=$$($(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$p/ 2>&1) || { echo "$$out"; exit 1; }; \
	    echo "$$p $$f: $$(echo "$$out" | tail -1)"; done; done

## bench: backlog throughput (20 ms and 0 ms per request) and API requests per document, peak memory on a 1 GiB PDF, the idle run's CPU and memory, the relay's answer time, the Activity tab over 1,000,000 rows, each beside a baseline (about 2 minutes once the million-row database is built; the first run builds it)
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 30m ./sync/engine/ ./sync/relay/ ./cmd/clinicsync/ ./app/

## windows-smoke: the headless Windows build (clinicsync.exe) syncs under Wine against the simulator, writing C:\ paths, and through the proxy of the registry's Internet Settings (packaging/windows/wine)
windows-smoke:
	GO=$(GO) bash packaging/windows/wine/smoke.sh

## windows: clinicsync.exe (tray app) and clinicsync-cli.exe (console) for Windows amd64 in dist/windows (cgo + mingw-w64; icon, version, manifest)
windows: deps
	GO=$(GO) bash packaging/windows/build.sh $(VERSION) dist/windows

## windows-sign: sign both exes: CERT=cert.pem KEY=key.pem, or CERT=x.pfx KEY=- with PFX_PASSWORD; TSA_URL= for a timestamp
windows-sign: windows
	@test -n "$(CERT)" || { echo "windows-sign: set CERT and KEY (packaging/windows/README.md)"; exit 2; }
	for f in clinicsync.exe clinicsync-cli.exe; do bash packaging/windows/sign.sh dist/windows/$$f dist/windows/$$f $(CERT) $(KEY); done

## msi: the installer dist/ClinicSync.msi (per user; per machine with ALLUSERS=1; msiexec properties preset settings) from the signed exes, then signed
msi: windows-sign
	bash packaging/windows/msi.sh dist/windows dist/ClinicSync.msi $(VERSION)
	bash packaging/windows/sign.sh dist/ClinicSync.msi dist/ClinicSync.msi $(CERT) $(KEY)

## windows-check: the release pipeline end to end: cgo build, self-signed signing and verify, MSI tables, install/upgrade/uninstall under Wine, and what IT does (presets and LOCK in status --json, ALLUSERS=1, upgrade while the app runs)
windows-check: deps
	GO=$(GO) bash packaging/windows/check.sh

## windows-package-check: the same with the headless build (no cgo: seconds, not minutes, from a cold cache); part of make test
windows-package-check:
	CGO=0 GO=$(GO) bash packaging/windows/check.sh

## screenshots: the real window under Xvfb (each tab in English, French and light; the setup; the tray menu), in docs/screenshots
screenshots: deps
	bash docs/screenshots.sh

clean:
	rm -rf bin
