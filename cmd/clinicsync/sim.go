package main

import (
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/sim"
)

func cmdSim(ctx context.Context, e *env, args []string) error {
	fs := e.flags("sim")
	listen := fs.String("listen", "127.0.0.1:8700", "listen on `ADDR` (host:port; port 0: any free port)")
	var o sim.Options
	fs.IntVar(&o.Documents, "documents", 50, "generated documents")
	fs.IntVar(&o.Patients, "patients", 10, "patients they belong to")
	fs.BoolVar(&o.Hostile, "hostile", false, "add the hostile fixtures (path attacks, invalid PDFs)")
	fs.Int64Var(&o.Seed, "seed", 1, "random seed")
	fs.StringVar(&o.Format, "format", sim.FormatHydra, "collection body `FORMAT`: hydra, member or array")
	fs.Float64Var(&o.FaultRate, "fault-rate", 0, "fraction of API calls that fail (5xx, resets, stalls)")
	fs.Float64Var(&o.PDFFaultRate, "pdf-fault-rate", 0, "fraction of PDF downloads that fail")
	fs.DurationVar(&o.Latency, "latency", 0, "added to every API response")
	fs.DurationVar(&o.LinkTTL, "link-ttl", time.Hour, "lifetime of pre-signed PDF links")
	fs.Int64Var(&o.PDFSize, "pdf-size", 0, "`BYTES` per generated PDF (0: about 2 KiB)")
	fs.StringVar(&o.Token, "token", "", "the only bearer `TOKEN` accepted (default: any)")
	fs.BoolVar(&o.OAuth, "oauth", false, "serve the OAuth endpoints and accept only tokens they issued")
	fs.BoolVar(&o.AutoApprove, "auto-approve", false, "with --oauth: skip the consent page")
	fs.StringVar(&o.WebhookSecret, "webhook-secret", "", "sign webhook deliveries with this Standard Webhooks `SECRET` (whsec_...)")
	if _, err := e.parse(fs, args); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return exitf(exitConfig, "%v", err)
	}
	s := sim.New(o)
	url, err := s.Start(*listen)
	if err != nil {
		return exitf(exitConfig, "cannot listen on %s: %v", *listen, err)
	}
	defer s.Close()
	fmt.Fprintf(e.stdout, "Askara simulator on %s with %d documents (Ctrl-C to stop)\n", url, len(s.Expected()))
	if err := simHint(e, url, o); err != nil {
		fmt.Fprintf(e.stderr, "clinicsync: no configuration for the simulator could be written: %v\n", err)
	}
	<-ctx.Done()
	st := s.Stats()
	fmt.Fprintf(e.stdout, "served %d API requests, %d PDF downloads, %d status calls\n", st.APIRequests, st.PDFDownloads, len(s.StatusCalls()))
	return nil
}

// simHint writes a minimal configuration for the simulator at url, with an
// empty documents folder beside it in a new temporary folder, and prints
// both and the commands that use it, ready to paste.
func simHint(e *env, url string, o sim.Options) error {
	dir, err := os.MkdirTemp("", "clinicsync-sim-")
	if err != nil {
		return err
	}
	root := filepath.Join(dir, "Patients")
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	toml := fmt.Sprintf("[askara]\napi_url = %q\n", url)
	if o.OAuth {
		toml += fmt.Sprintf("authorize_url = %q\ntoken_url = %q\ndevice_url = %q\nrevoke_url = %q\n",
			url+"/authorize", url+"/oauth2/token", url+"/oauth2/device", url+"/oauth2/revoke")
	}
	toml += fmt.Sprintf("\n[destination]\nroot = %q\n", root)
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(toml), 0o600); err != nil {
		return err
	}
	flags := fmt.Sprintf("--config %s --data-dir %s", cfgPath, filepath.Join(dir, "data"))
	fmt.Fprintf(e.stdout, "\nA minimal configuration for it, written to %s\n(with %s, an empty documents folder made for it):\n\n%s\n", cfgPath, root, toml)
	if o.OAuth {
		fmt.Fprintf(e.stdout, "In another terminal, sign in (the simulator's consent page), then sync:\n  clinicsync login %s\n  clinicsync sync %s\n", flags, flags)
		return nil
	}
	token, which := "demo", "any access token"
	if o.Token != "" {
		token, which = o.Token, "only the token given with --token"
	}
	fmt.Fprintf(e.stdout, "In another terminal, sync from it (it accepts %s; no sign-in needed):\n", which)
	if runtime.GOOS == "windows" {
		fmt.Fprintf(e.stdout, "  set CLINICSYNC_ACCESS_TOKEN=%s\n  clinicsync sync %s\n", token, flags)
	} else {
		fmt.Fprintf(e.stdout, "  CLINICSYNC_ACCESS_TOKEN=%s clinicsync sync %s\n", token, flags)
	}
	fmt.Fprintln(e.stdout, "(CLINICSYNC_CONFIG and CLINICSYNC_DATA_DIR can replace --config and --data-dir;\n"+
		"from the source folder, clinicsync is `go run ./cmd/clinicsync`.)")
	return nil
}

// cmdDemo runs the whole product against the built-in simulator in a
// temporary folder: the tray app by default, or headless (--headless),
// printing what landed, what was refused and why.
func cmdDemo(ctx context.Context, e *env, args []string) error {
	fl := e.flags("demo")
	docs := fl.Int("documents", 24, "generated documents")
	keep := fl.Bool("keep", true, "keep the temporary folder to look at")
	headless := fl.Bool("headless", false, "no window: one pass, then print what landed")
	if _, err := e.parse(fl, args); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "clinicsync-demo-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(tmp)
	}
	root := filepath.Join(tmp, "YourSoftware", "Documents", "Patients")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if !*headless && !hasDisplay() {
		fmt.Fprintln(e.stdout, "No display here (DISPLAY is not set): running the demo without a window.")
		*headless = true
	}
	if !*headless {
		return guiDemo(ctx, e, tmp, root, *docs)
	}
	return headlessDemo(ctx, e, tmp, root, *docs, *keep)
}

// headlessDemo is the demo without a window: a day at the clinic (the
// hostile fixtures are for `sim --hostile` and the tests), one pass, what
// landed, then the window demo's Retry story told as it happens.
func headlessDemo(ctx context.Context, e *env, tmp, root string, docs int, keep bool) error {
	s := sim.New(sim.Options{Documents: docs, Patients: 6, Seed: 7})
	broken := addDemoBroken(s)
	for _, p := range []clinicsync.Patient{{FirstName: "Jean", LastName: "Dupont"}, {FirstName: "Amira", LastName: "Haddad"}} {
		s.AddNote(sim.Note{Patient: p, Content: p.FirstName + " " + p.LastName +
			" seen today for a follow-up.\nExamination unremarkable.\nPlan: review in three months."})
	}
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer s.Close()

	cfg := config.Default()
	cfg.Askara.APIURL = url
	cfg.Destination.Root = root
	e.configPath = filepath.Join(tmp, "config.toml")
	e.dataDir = filepath.Join(tmp, "data")
	if err := cfg.Save(e.configPath); err != nil {
		return err
	}
	os.Setenv("CLINICSYNC_ACCESS_TOKEN", "demo-token") // the simulator accepts any token
	if err := e.setup(); err != nil {
		return err
	}
	eng, _, err := e.engine(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Clinic Sync demo, without a window: a day at the clinic\n  simulator:   %s (%d documents for 6 patients, and clinical notes)\n  destination: %s\n\n",
		url, len(s.Expected()), root)
	if err := eng.Recover(ctx); err != nil {
		return err
	}
	res, err := eng.Pass(ctx)
	if err != nil {
		return fmt.Errorf("demo pass: %s", clinicsync.ErrorMessage(err))
	}
	fixed := time.Now().Add(demoFixAfter) // the simulator fixes the file then, as in the window
	printPass(e, res)
	if n, err := eng.PollNotes(ctx); err == nil {
		fmt.Fprintf(e.stdout, "notes saved: %d\n", n)
	}
	fmt.Fprintf(e.stdout, "\nWhat landed (below %s):\n", root)
	var files []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	sort.Strings(files)
	for _, f := range files {
		fmt.Fprintf(e.stdout, "  %s\n", f)
	}

	it, err := eng.Document(ctx, broken.UUID)
	if err != nil {
		return err
	}
	doc := docName(it) + " for " + it.Patient.DisplayName()
	say := func(format string, args ...any) {
		fmt.Fprintf(e.stdout, "  %s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(e.stdout, "\nRetry, as in the window (Documents, pick the document, Retry):\n")
	say("%s failed: %s Askara was told once.", doc, it.Reason)
	_, err = eng.Retry(ctx, it.UUID)
	say("Retry of %s: %s", doc, retryOutcome(ctx, eng, it.UUID, err))
	left, err := eng.Retry(ctx, it.UUID)
	say("Retry of %s again at once: refused: %s", doc, outcome(err))
	allowed := time.Now().Add(left)
	say("Waiting: the simulator fixes the file %s after the first pass, and Retry is allowed again at %s.",
		demoFixAfter, allowed.Format("15:04:05"))
	if !sleepUntil(ctx, fixed) {
		return nil
	}
	s.SetContent(it.UUID, sim.Content{Kind: sim.ContentPDF})
	say("Askara now serves the right file (the simulator fixed the file).")
	if !sleepUntil(ctx, allowed) {
		return nil
	}
	_, err = eng.Retry(ctx, it.UUID)
	say("Retry of %s: %s", doc, retryOutcome(ctx, eng, it.UUID, err))

	ok, bad := 0, 0
	for _, c := range s.StatusCalls() {
		if c.Status.Success {
			ok++
		} else {
			bad++
		}
	}
	fmt.Fprintf(e.stdout, "\nAskara was told: %d success, %d failure (%d API requests for %d documents).\n",
		ok, bad, s.Stats().APIRequests, len(s.Expected()))
	if keep {
		fmt.Fprintf(e.stdout, "\nLook around: %s\n  (clinicsync is `go run ./cmd/clinicsync` from the source folder)\n  clinicsync status --config %s --data-dir %s\n  clinicsync log --config %s --data-dir %s\n",
			tmp, e.configPath, e.dataDir, e.configPath, e.dataDir)
	}
	return nil
}

// docName names a document for a person: its file name, else its type,
// else its uuid.
func docName(d engine.DocumentView) string {
	return clinicsync.CleanText(cmp.Or(d.FileName, d.Type, "document "+d.UUID))
}

func outcome(err error) string {
	if err == nil {
		return "saved and confirmed"
	}
	return clinicsync.ErrorMessage(err)
}

// retryOutcome is outcome with the path a delivered document was saved to.
func retryOutcome(ctx context.Context, eng *engine.Engine, uuid string, err error) string {
	if err != nil {
		return "still failing: " + outcome(err)
	}
	d, gerr := eng.Document(ctx, uuid)
	if gerr != nil {
		return outcome(nil)
	}
	return outcome(nil) + ": " + d.Path
}

// sleepUntil waits until t or the end of ctx; false when ctx ended.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// demoFixAfter is when the demo's broken document gets a good file, so
// that Retry delivers it.
const demoFixAfter = 20 * time.Second

// addDemoBroken adds the demo's broken document: Élodie Martin's lab
// results, served as an error page instead of the PDF until the demo
// fixes it (SetContent), so that Retry can be tried.
func addDemoBroken(s *sim.Server) clinicsync.Document {
	return s.AddDocument(sim.Fixture{Doc: clinicsync.Document{Type: "lab_results",
		Patient: clinicsync.Patient{FirstName: "Élodie", LastName: "Martin", ExternalID: "P-2041"},
		PDF:     clinicsync.PDF{FileName: "lab_results.pdf"}}, Content: sim.Content{Kind: sim.ContentHTML}, Label: "demo: broken"})
}

// guiDemo runs the tray app against the simulator: documents already
// waiting, more arriving every few seconds, and one that fails (Askara
// served an error page instead of the PDF) until the simulator fixes it,
// so Retry can be tried.
func guiDemo(ctx context.Context, e *env, tmp, root string, docs int) error {
	// Askara (the simulator) pushes each new document to the relay, signed.
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	s := sim.New(sim.Options{Documents: docs, Patients: 6, Seed: 7, WebhookSecret: secret})
	broken := addDemoBroken(s)
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer s.Close()
	cfg := config.Default()
	cfg.Askara.APIURL = url
	cfg.Askara.PollInterval = config.Duration{Duration: 10 * time.Second}
	cfg.Destination.Root = root
	cfg.App.StartAtLogin = false
	// The simulator offers a version signed with its demo key, which only
	// the demo trusts.
	cfg.Updates.URL = url + sim.UpdatePath
	e.updateKey = sim.DemoUpdateKey
	if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		addr := l.Addr().String()
		l.Close()
		cfg.Relay.Enabled, cfg.Relay.Listen, cfg.Relay.Public = true, addr, "http://"+addr
		os.Setenv("CLINICSYNC_ASKARA_WEBHOOK_SECRET", secret)
	}
	e.configPath = filepath.Join(tmp, "config.toml")
	e.dataDir = filepath.Join(tmp, "data")
	if err := cfg.Save(e.configPath); err != nil {
		return err
	}
	os.Setenv("CLINICSYNC_ACCESS_TOKEN", "demo-token") // the simulator accepts any token
	if err := e.setup(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Clinic Sync demo: simulator on %s, documents land in %s\n"+
		"New documents arrive by webhook through the relay (%s), within a second; polling every 10 s catches the rest.\n"+
		"Élodie Martin's lab results fail at first (an error page instead of a PDF); after %s the simulator\n"+
		"fixes the file: open Documents, pick it and press Retry. Quit from the tray menu or close the window.\n",
		url, root, cfg.Relay.Listen, demoFixAfter)
	demoCtx, stop := context.WithCancel(ctx)
	defer stop()
	go demoFeed(demoCtx, s, broken.UUID)
	err = e.runGUI(ctx, guiOptions{title: "demo"})
	fmt.Fprintf(e.stdout, "The demo's files stay in %s\n", tmp)
	return err
}

// demoFeed adds a document every 6 seconds for two minutes and fixes the
// broken one after demoFixAfter.
func demoFeed(ctx context.Context, s *sim.Server, broken string) {
	names := []string{"referral_letter.pdf", "discharge_summary.pdf", "prescription.pdf", "consultation_report.pdf"}
	patients := []clinicsync.Patient{{FirstName: "Jean", LastName: "Dupont"}, {FirstName: "Amira", LastName: "Haddad"},
		{FirstName: "Chloé", LastName: "Lefèvre"}, {FirstName: "Tom", LastName: "O'Brien"}}
	fix := time.After(demoFixAfter)
	tick := time.NewTicker(6 * time.Second)
	defer tick.Stop()
	for i := 0; i < 20; {
		select {
		case <-ctx.Done():
			return
		case <-fix:
			s.SetContent(broken, sim.Content{Kind: sim.ContentPDF})
		case <-tick.C:
			s.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: patients[i%len(patients)],
				PDF: clinicsync.PDF{FileName: names[i%len(names)]}}})
			if i%3 == 0 { // and a clinical note now and then
				p := patients[(i/3)%len(patients)]
				s.AddNote(sim.Note{Patient: p, Content: p.FirstName + " " + p.LastName +
					" seen today for a follow-up.\nExamination unremarkable.\nPlan: review in three months."})
			}
			i++
		}
	}
}
