package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/failpoint"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// signedPost sends body to the relay signed with Standard Webhooks, the
// signature computed here, independently of the code under test.
func signedPost(t *testing.T, url, id string, body []byte) int {
	t.Helper()
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(relaySecret, "whsec_"))
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// An acknowledged delivery is never lost (issue 11, item 11). A file was
// deleted from the patient folder and Askara sends document_synchronize;
// the relay answers 200, and the process is killed at each step between
// that answer and the confirmation (a PC switched off, a crash). After a
// restart, every time, the file is on disk once with the right bytes and
// the platform got a success confirmation once (twice only when the kill
// came after the platform had already answered the first: it cannot be
// known then that it arrived).
func TestAcknowledgedDeliverySurvivesAKillAtEveryStep(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	for _, point := range failpoint.Points {
		t.Run(point, func(t *testing.T) {
			s, addr := relaySetup(t, sim.Options{Seed: 77})
			d := s.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: clinicsync.Patient{FirstName: "John", LastName: "Doe"},
				PDF: clinicsync.PDF{FileName: "referral_letter.pdf"}}})
			if out, errOut, code := s.run(t, "sync"); code != 0 {
				t.Fatalf("first sync: %d\n%s%s", code, out, errOut)
			}
			file := filepath.Join(s.root, "DOE_JOHN", "referral_letter.pdf")
			want := tree(t, s.root)["DOE_JOHN/referral_letter.pdf"]
			if want == "" {
				t.Fatalf("first sync wrote %v", tree(t, s.root))
			}
			if err := os.Remove(file); err != nil {
				t.Fatal(err)
			}
			before := successes(s, d.UUID)

			s.extraEnv = append(s.extraEnv, failpoint.Env+"="+point)
			c, out := startRun(t, s)
			exited := make(chan error, 1)
			go func() { exited <- c.Wait() }()
			waitFor(t, "the relay", 20*time.Second, func() bool { return len(s.sim.Webhooks()) == 1 })
			event, _ := json.Marshal(map[string]any{"events": []any{map[string]any{"id": d.UUID, "resource_type": "document",
				"action": "document_synchronize", "metadata": map[string]any{}}}, "meta": map[string]any{"webhook_id": "wh"}})
			if code := signedPost(t, "http://"+addr+"/webhooks/askara", "msg_"+point, event); code != 200 {
				t.Fatalf("delivery answered %d\n%s", code, out)
			}
			select {
			case err := <-exited:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != -1 { // -1: ended by a signal
					t.Fatalf("the process ended with %v, not killed at %s\n%s", err, point, out)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("the process never reached %s\n%s", point, out)
			}

			atKill := successes(s, d.UUID)
			s.extraEnv = s.extraEnv[:len(s.extraEnv)-1]
			c2, out2 := startRun(t, s)
			st, err := store.Open(filepath.Join(s.dataDir, "state.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			ctx := context.Background()
			waitFor(t, "the delivery processed, the file on disk and confirmed after the restart", 30*time.Second, func() bool {
				_, err := os.Stat(file)
				it, _ := st.Get(ctx, d.UUID)
				pending, _ := st.InboxPending(ctx, 10)
				return err == nil && successes(s, d.UUID) > atKill && it.State == clinicsync.StateConfirmed && len(pending) == 0
			})
			if err := terminate(c2, 20*time.Second); err != nil {
				t.Fatalf("stop: %v\n%s", err, out2)
			}
			got := tree(t, s.root)
			if len(got) != 1 || got["DOE_JOHN/referral_letter.pdf"] != want {
				t.Fatalf("files after the restart %v\n%s\n%s", got, out, out2)
			}
			n := successes(s, d.UUID) - before
			if n != 1 && !(point == failpoint.EngineConfirmSent && n == 2) {
				t.Fatalf("%d success confirmations after the event\n%s\n%s", n, out, out2)
			}
		})
	}
}

// successes counts the success:true confirmations the platform accepted.
func successes(s *setup, uuid string) int {
	n := 0
	for _, c := range s.sim.StatusCalls() {
		if c.UUID == uuid && c.Status.Success && c.Code == 200 {
			n++
		}
	}
	return n
}
