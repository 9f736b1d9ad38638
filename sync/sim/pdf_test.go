package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"strconv"
	"testing"
)

// checkPDF verifies the structure a PDF reader relies on: header, %%EOF,
// every xref offset pointing at its object, startxref pointing at the
// xref table, and the filler stream's /Length matching its bytes.
func checkPDF(t *testing.T, b []byte) {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("%PDF-1.7\n")) || !bytes.HasSuffix(b, []byte("%%EOF\n")) {
		t.Fatalf("bad header or trailer: %q ... %q", b[:min(len(b), 16)], b[max(0, len(b)-16):])
	}
	tail := b[max(0, len(b)-1024):]
	m := regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n$`).FindSubmatch(tail)
	if m == nil {
		t.Fatalf("no startxref in %q", tail)
	}
	xref, _ := strconv.Atoi(string(m[1]))
	if !bytes.HasPrefix(b[xref:], []byte("xref\n0 7\n")) {
		t.Fatalf("startxref %d points at %q", xref, b[xref:xref+10])
	}
	entries := regexp.MustCompile(`(\d{10}) 00000 n \n`).FindAllSubmatch(b[xref:], -1)
	if len(entries) != 6 {
		t.Fatalf("%d xref entries, want 6", len(entries))
	}
	for i, e := range entries {
		off, _ := strconv.Atoi(string(e[1]))
		want := fmt.Sprintf("%d 0 obj\n", i+1)
		if !bytes.HasPrefix(b[off:], []byte(want)) {
			t.Fatalf("object %d offset %d points at %q", i+1, off, b[off:off+10])
		}
	}
	off6, _ := strconv.Atoi(string(entries[5][1]))
	lm := regexp.MustCompile(`^6 0 obj\n<< /Length (\d+) +>>\nstream\n`).FindSubmatch(b[off6:])
	if lm == nil {
		t.Fatalf("object 6 header: %q", b[off6:off6+60])
	}
	l, _ := strconv.Atoi(string(lm[1]))
	end := off6 + len(lm[0]) + l
	if !bytes.HasPrefix(b[end:], []byte("\nendstream\nendobj\nxref")) {
		t.Fatalf("/Length %d does not end at endstream: %q", l, b[end:end+20])
	}
}

func TestPDFGenerator(t *testing.T) {
	if MinPDFSize < 500 || MinPDFSize > 1200 {
		t.Fatalf("MinPDFSize = %d", MinPDFSize)
	}
	sizes := []int64{MinPDFSize, MinPDFSize + 1, 999, 1000, 1001, 2048, 9999, 10000, 10001, 4096*3 + 17, 100003, 1<<20 + 7}
	for _, size := range sizes {
		b := PDFBytes(42, "doc-uuid", size)
		if int64(len(b)) != max(size, MinPDFSize) {
			t.Fatalf("size %d: got %d bytes", size, len(b))
		}
		checkPDF(t, b)
		r, err := io.ReadAll(PDFReader(42, "doc-uuid", size))
		if err != nil || !bytes.Equal(r, b) {
			t.Fatalf("size %d: PDFReader differs from PDFBytes (err %v)", size, err)
		}
		sum := sha256.Sum256(b)
		if got, n := pdfSHA256(42, "doc-uuid", size); got != hex.EncodeToString(sum[:]) || n != int64(len(b)) {
			t.Fatalf("size %d: streamed hash %s/%d differs", size, got, n)
		}
	}
	if got := PDFBytes(1, "x", 10); int64(len(got)) != MinPDFSize {
		t.Fatalf("small size not raised to MinPDFSize: %d", len(got))
	}

	// Random-offset reads agree with the whole.
	g := newPDFGen(7, "u", 300000)
	whole := PDFBytes(7, "u", 300000)
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		off := r.Int64N(g.size)
		buf := make([]byte, r.IntN(9000)+1)
		n, _ := g.ReadAt(buf, off)
		if !bytes.Equal(buf[:n], whole[off:off+int64(n)]) {
			t.Fatalf("ReadAt(%d, %d) differs", off, len(buf))
		}
	}

	// Deterministic from (seed, uuid); different otherwise; every filler
	// block is distinct (reordering is detectable).
	if !bytes.Equal(PDFBytes(3, "a", 5000), PDFBytes(3, "a", 5000)) {
		t.Fatal("not deterministic")
	}
	if bytes.Equal(PDFBytes(3, "a", 5000), PDFBytes(4, "a", 5000)) || bytes.Equal(PDFBytes(3, "a", 5000), PDFBytes(3, "b", 5000)) {
		t.Fatal("seed or uuid do not change the bytes")
	}
	hl := int64(len(g.head))
	if bytes.Equal(whole[hl:hl+pdfBlock], whole[hl+pdfBlock:hl+2*pdfBlock]) {
		t.Fatal("filler blocks repeat")
	}
}
