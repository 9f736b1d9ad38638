package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/clinicsync/clinicsync"
)

// ContentKind says what the pre-signed link of a document serves.
type ContentKind int

const (
	// ContentPDF is a valid deterministic PDF of Content.Size bytes.
	ContentPDF ContentKind = iota
	// ContentEmpty is a 200 with a 0-byte body (Content-Type application/pdf).
	ContentEmpty
	// ContentHTML is a 200 whose body is "<html>Error</html>", still
	// labelled application/pdf: the client must check the bytes.
	ContentHTML
	// ContentNotFound is a link that answers 404 (S3-like XML NoSuchKey).
	ContentNotFound
	// ContentNoURL is a document whose pdf object has a fileName but no url.
	ContentNoURL
	// ContentNoPDF is a document without any pdf object.
	ContentNoPDF
)

var contentNames = [...]string{"pdf", "empty", "html", "not-found", "no-url", "no-pdf"}

func (k ContentKind) String() string {
	if int(k) >= 0 && int(k) < len(contentNames) {
		return contentNames[k]
	}
	return fmt.Sprintf("ContentKind(%d)", int(k))
}

// Content describes the bytes behind a document's link.
type Content struct {
	Kind ContentKind
	// Size of a ContentPDF document in bytes; 0 means the server's default
	// (Options.PDFSize). Sizes below MinPDFSize are raised to it. The
	// document is generated while it is sent, so 1 GiB costs no memory.
	Size int64
}

// ValidPDF is a valid PDF of size bytes (0: the server's default size).
func ValidPDF(size int64) Content { return Content{Kind: ContentPDF, Size: size} }

// htmlBody is what ContentHTML serves.
const htmlBody = "<html>Error</html>"

// reason is why a document of this kind must not land ("" if it should).
func (c Content) reason() string {
	switch c.Kind {
	case ContentPDF:
		return ""
	case ContentEmpty:
		return "empty file (0 bytes)"
	case ContentHTML:
		return "not a PDF (an HTML error page served as 200)"
	case ContentNotFound:
		return "the PDF link answers 404"
	case ContentNoURL:
		return "the document has no pdf.url"
	case ContentNoPDF:
		return "the document has no pdf object"
	}
	return "unknown content"
}

// Fixture is one document given to the simulator.
type Fixture struct {
	// Doc is the document as listed. An empty UUID, Patient.UUID or State
	// is filled in (State "verified"); PDF.URL is ignored: the simulator
	// signs a fresh link each time it lists the document.
	Doc     clinicsync.Document
	Content Content
	// Synchronized starts the document as already synchronized.
	Synchronized bool
	// Label says what the fixture exercises (Expectation.Label).
	Label string
	// CreatedAt is the document's createdAt; zero means the clock's now.
	CreatedAt time.Time
}

// Document types the generator uses.
var docTypes = []string{"referral_letter", "consultation_report", "prescription", "lab_results", "discharge_summary"}

var firstNames = []string{
	"Jean", "Marie", "Élodie", "Zoë", "François", "Anaïs", "Jean-Luc", "Marie-Claire",
	"Siobhán", "Seán", "Chloé", "Noémie", "Jérôme", "Hélène", "Björn", "Łukasz",
	"Ana", "Mohamed", "Fatou", "Liam", "Olivia", "Emma", "Lucas", "Sophie",
	"Thomas", "Camille", "Nicolás", "Dörte", "Inès", "Anne-Sophie",
}

var lastNames = []string{
	"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Durand", "Leroy",
	"Moreau", "Lefèvre", "Girard", "Mercier", "O'Brien", "D'Angelo", "N'Diaye", "Le Gall",
	"Smith-Jones", "Müller", "García", "Núñez", "Ødegaard", "Nguyen", "van der Berg",
	"Saint-Exupéry", "Kowalski", "Brontë", "Peña", "MacDonald", "da Silva", "L'Hôte",
}

// genEpoch is the createdAt of the first generated document.
var genEpoch = time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)

// uuid4 draws a v4-shaped UUID from r.
func uuid4(r *rand.Rand) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// RNG streams, one per purpose, so that e.g. the hostile fixtures do not
// change when Documents does.
const (
	streamGenerated = 0x5eed0001 + iota
	streamHostile
	streamAdded
	streamFaults
	streamSizes
)

func newRNG(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream))
}

// generate makes n realistic documents over p patients.
func generate(seed int64, n, p int) []Fixture {
	if n <= 0 {
		return nil
	}
	r := newRNG(seed, streamGenerated)
	patients := make([]clinicsync.Patient, p)
	for i := range patients {
		dob := time.Date(1930, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(90*365))
		patients[i] = clinicsync.Patient{
			UUID:        uuid4(r),
			ExternalID:  fmt.Sprintf("PMS-%05d", 1+r.IntN(99999)),
			FirstName:   firstNames[r.IntN(len(firstNames))],
			LastName:    lastNames[r.IntN(len(lastNames))],
			DateOfBirth: dob.Format(time.DateOnly),
		}
	}
	out := make([]Fixture, n)
	for i := range out {
		created := genEpoch.Add(time.Duration(i) * 7 * time.Minute)
		typ := docTypes[r.IntN(len(docTypes))]
		name := typ + ".pdf"
		if r.IntN(2) == 0 {
			name = typ + "_" + created.Format(time.DateOnly) + ".pdf"
		}
		// Most documents go to a random patient; every patient gets at
		// least one while there are enough documents.
		pi := i % p
		if i >= p {
			pi = r.IntN(p)
		}
		out[i] = Fixture{
			Doc: clinicsync.Document{
				UUID:    uuid4(r),
				Type:    typ,
				State:   "verified",
				Patient: patients[pi],
				PDF:     clinicsync.PDF{FileName: name},
			},
			CreatedAt: created,
		}
	}
	return out
}

// HostileFixtures returns the hostile documents Options.Hostile adds, with
// their UUIDs (deterministic from seed). Each one's Label says what it
// attacks; those with invalid content must not land.
func HostileFixtures(seed int64) []Fixture {
	r := newRNG(seed, streamHostile)
	patient := func(first, last, ext, dob string) clinicsync.Patient {
		return clinicsync.Patient{UUID: uuid4(r), ExternalID: ext, FirstName: first, LastName: last, DateOfBirth: dob}
	}
	// One ordinary patient carries the file-name attacks, so that their
	// sanitised names also collide with each other in one folder.
	harriet := patient("Harriet", "Hostile", "HOST-0001", "1980-02-29")
	var out []Fixture
	add := func(label string, p clinicsync.Patient, fileName string, c Content) {
		out = append(out, Fixture{
			Doc: clinicsync.Document{
				UUID:    uuid4(r),
				Type:    "referral_letter",
				State:   "verified",
				Patient: p,
				PDF:     clinicsync.PDF{FileName: fileName},
			},
			Content: c,
			Label:   label,
		})
	}
	ok := ValidPDF(0)

	// Patient names that attack the folder.
	add("patient name traversal (../../etc, ..)", patient("..", "../../etc", "HOST-0002", "1970-01-01"), "report.pdf", ok)
	add("patient names are reserved device names (PRN CON)", patient("PRN", "CON", "HOST-0003", "1970-01-02"), "NUL.pdf", ok)
	add("lower-case reserved names (aux, nul)", patient("nul", "aux", "HOST-0004", "1970-01-03"), "aux.pdf", ok)
	add(`patient names with <>:"/\|?*`, patient(`x?y*z`, `A<>:"/\|?*B`, "HOST-0005", "1970-01-04"), `a<b>c:d"e|f?g*h.pdf`, ok)
	add("control characters in names (\\x00 \\x1f \\t \\n)", patient("Tab\tNew\nLine", "Nul\x00Byte\x1f", "HOST-0006", "1970-01-05"), "ctl\x1f\x00na\tme\n.pdf", ok)
	add("trailing dots and spaces", patient("Jean ", "Dupont. . ", "HOST-0007", "1970-01-06"), "report. . ", ok)
	add("accents in NFC (Élodie Zoë)", patient("Élodie", "Zoë", "HOST-0008", "1970-01-07"), "lettre_Élodie.pdf", ok)
	add("accents in NFD (José Zoë decomposed)", patient("Jose\u0301", "Zoe\u0308", "HOST-0009", "1970-01-08"), "compte_rendu_Jose\u0301.pdf", ok)
	add("300-character last name (multi-byte)", patient("Long", longRunes("Éloïse-Ñandú-", 300), "HOST-0010", "1970-01-09"), "long_name.pdf", ok)
	add("patient with only an externalId", patient("", "", "EXT-ONLY-42", ""), "referral_letter.pdf", ok)
	add("patient with only a uuid", patient("", "", "", ""), "referral_letter.pdf", ok)
	add("externalId and birth date with separators", patient("", "", `..\..\EXT/1`, "../../1970-01-01"), "referral_letter.pdf", ok)
	add("bidi override, zero-width joiner and emoji in names", patient("👩\u200d⚕️", "Ma\u200dr\u202Eie", "HOST-0011", "1970-01-10"), "invoice\u202Efdp.exe", ok)
	add("leading-dash names (-rf, --help)", patient("--help", "-rf", "HOST-0012", "1970-01-11"), "-rf.pdf", ok)

	// File names that attack the path.
	add("file name traversal ../../evil.pdf", harriet, "../../evil.pdf", ok)
	add(`file name is a Windows absolute path`, harriet, `C:\Windows\System32\evil.pdf`, ok)
	add("file name is an absolute path /etc/passwd", harriet, "/etc/passwd", ok)
	add("file name NUL.pdf", harriet, "NUL.pdf", ok)
	add("file name com1.pdf", harriet, "com1.pdf", ok)
	add("file name LPT9.txt (reserved, not .pdf)", harriet, "LPT9.txt", ok)
	add("file name CON .pdf", harriet, "CON .pdf", ok)
	add("file name with an NTFS stream (report.pdf:Zone.Identifier)", harriet, "report.pdf:Zone.Identifier", ok)
	add("file name is ..", harriet, "..", ok)
	add("file name is .", harriet, ".", ok)
	add("file name is only spaces", harriet, "   ", ok)
	add("file name is .pdf", harriet, ".pdf", ok)
	add("300-character file name", harriet, strings.Repeat("x", 296)+".pdf", ok)
	add("empty file name", harriet, "", ok)
	add("file name without extension", harriet, "scan_result", ok)
	add("look-alike slashes (fullwidth, division slash)", harriet, "a／b∕c.pdf", ok)
	add("emoji file name", harriet, "😀 scan 🩺.pdf", ok)
	add("same file name twice for one patient (1)", harriet, "referral_letter.pdf", ok)
	add("same file name twice for one patient (2)", harriet, "referral_letter.pdf", ok)
	add("names differing only in case (Report.pdf)", harriet, "Report.pdf", ok)
	add("names differing only in case (report.pdf)", harriet, "report.pdf", ok)
	add("same name in NFC (résumé.pdf)", harriet, "r\u00e9sum\u00e9.pdf", ok)
	add("same name in NFD (résumé.pdf decomposed)", harriet, "re\u0301sume\u0301.pdf", ok)

	// Bad content.
	add("empty PDF (0 bytes)", harriet, "empty.pdf", Content{Kind: ContentEmpty})
	add("HTML error page served as 200", harriet, "error_page.pdf", Content{Kind: ContentHTML})
	add("PDF link answers 404", harriet, "missing.pdf", Content{Kind: ContentNotFound})
	add("pdf object without url", harriet, "no_url.pdf", Content{Kind: ContentNoURL})
	add("no pdf object", harriet, "", Content{Kind: ContentNoPDF})
	return out
}

// longRunes repeats unit until it is exactly n runes long.
func longRunes(unit string, n int) string {
	u := []rune(unit)
	out := make([]rune, n)
	for i := range out {
		out[i] = u[i%len(u)]
	}
	return string(out)
}
