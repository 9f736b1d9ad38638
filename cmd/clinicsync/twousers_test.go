package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// Two users on one PC (Remote Desktop, a terminal server): two `run`
// processes with their own data folders and the default settings with the
// relay on, so both want the relay on 127.0.0.1:8787. Both run and sync side
// by side; the relay that found the port taken listens on a free one and
// says which, and each relay answers on its own address. (Before, the
// second exited: "webhook relay: The relay cannot listen on ...".)
func TestTwoUsersOnOnePCRunSideBySide(t *testing.T) {
	var users [2]*setup
	var outs [2]*lockedBuffer
	var exited [2]chan struct{} // closed when the process ends
	relayLine := regexp.MustCompile(`Webhook relay on (\S+) `)
	for i := range users {
		s := newSetup(t, sim.Options{Documents: 3, Patients: 2, Seed: int64(60 + i)})
		cfg, err := config.Load(s.cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Relay.Enabled = true
		if cfg.Relay.Listen != config.DefaultRelayListen || cfg.Relay.Public != "" || cfg.Askara.RedirectPort != 8765 {
			t.Fatalf("not the default settings: %+v", cfg.Relay)
		}
		if err := cfg.Save(s.cfgPath); err != nil {
			t.Fatal(err)
		}
		users[i], outs[i] = s, &lockedBuffer{}
		c := s.cmd(context.Background(), "run")
		c.Stdout, c.Stderr = outs[i], outs[i]
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		exited[i] = done
		go func() { c.Wait(); close(done) }()
		t.Cleanup(func() { c.Process.Kill(); <-done })
		waitFor(t, "the relay of user "+string(rune('A'+i)), 30*time.Second, func() bool {
			return relayLine.MatchString(outs[i].String()) || stopped(done)
		})
		if stopped(done) {
			t.Fatalf("user %d's run stopped:\n%s", i, outs[i].String())
		}
	}
	for i, s := range users {
		waitFor(t, "both syncing", 60*time.Second, func() bool { return len(s.sim.StatusCalls()) == 3 })
		if got := tree(t, s.root); len(got) < 3 {
			t.Fatalf("user %d's documents folder: %v", i, got)
		}
	}
	var addrs [2]string
	for i, out := range outs {
		m := relayLine.FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("user %d has no relay:\n%s", i, out.String())
		}
		addrs[i] = m[1]
	}
	if addrs[0] == addrs[1] {
		t.Fatalf("both relays on %s", addrs[0])
	}
	for i, a := range addrs {
		if a == config.DefaultRelayListen {
			continue
		}
		// This one found the default port taken (by the other user, or by a
		// program of this machine) and says so.
		want := config.DefaultRelayListen + " is in use by another program (perhaps another user's Clinic Sync on this PC): the webhook relay listens on " + a + " instead."
		if !strings.Contains(outs[i].String(), want) {
			t.Errorf("user %d's relay on %s does not say why:\n%s", i, a, outs[i].String())
		}
	}
	for i, a := range addrs {
		// Each relay answers on its address (unsigned: refused as such).
		resp, err := http.Post("http://"+a+"/webhooks/askara", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatalf("user %d's relay at %s: %v", i, a, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("user %d's relay at %s answered %d", i, a, resp.StatusCode)
		}
		if stopped(exited[i]) {
			t.Errorf("user %d's run stopped:\n%s", i, outs[i].String())
		}
	}
}

func stopped(done chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}
