package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
)

// The generated PDF is a real one-page PDF (a reader opens it) followed by
// an unreferenced filler stream object that brings it to the exact size
// asked for, then a correct xref table and trailer:
//
//	%PDF-1.7
//	objects 1-5: catalog, pages, page, font, page content
//	object 6: << /Length L >> stream <L filler bytes> endstream
//	xref, trailer, startxref, %%EOF
//
// Any byte is computable from its offset alone (io.ReaderAt), so a 1 GiB
// document is streamed in fixed-size chunks without being held in memory.
// The filler repeats a 4 KiB block drawn from ChaCha8 keyed by (seed, uuid);
// the first 16 bytes of every block are its index in hex, so a client that
// reorders, drops or duplicates chunks produces a different SHA-256.

const (
	pdfBlock     = 4096
	pdfStamp     = 16 // hex digits of the block index at the start of each block
	pdfEndStream = "\nendstream\nendobj\n"
)

// MinPDFSize is the smallest valid PDF the generator makes; smaller sizes
// asked for are raised to it.
var MinPDFSize = newPDFGen(0, "", 0).size

type pdfGen struct {
	head []byte // up to and including "stream\n" of the filler object
	tail []byte // from "\nendstream" to "%%EOF\n"
	fill int64  // filler length
	size int64  // total
	base []byte // pdfBlock bytes of filler pattern
}

// pdfKey derives the per-document key from the server seed and the uuid.
func pdfKey(seed int64, uuid string) [32]byte {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seed))
	h.Write([]byte("clinicsync-sim-pdf\x00"))
	h.Write(b[:])
	h.Write([]byte(uuid))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func newPDFGen(seed int64, uuid string, size int64) *pdfGen {
	key := pdfKey(seed, uuid)
	id := hex.EncodeToString(key[:16])
	label := hex.EncodeToString(key[16:24])

	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	var offs [7]int
	obj := func(n int, body string) {
		offs[n] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, body)
	}
	obj(1, "<< /Type /Catalog /Pages 2 0 R >>")
	obj(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>")
	obj(4, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	text := "BT /F1 20 Tf 72 760 Td (Clinic Sync simulator) Tj /F1 11 Tf 0 -30 Td (Synthetic test document " + label + ") Tj ET"
	obj(5, fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(text), text))
	offs[6] = b.Len()
	lengthAt := b.Len() + len("6 0 obj\n<< /Length ")
	b.WriteString("6 0 obj\n<< /Length ")
	b.WriteString("                    ") // 20 columns, filled below
	b.WriteString(" >>\nstream\n")
	head := b.Bytes()

	var t bytes.Buffer
	t.WriteString(pdfEndStream)
	t.WriteString("xref\n0 7\n0000000000 65535 f \n")
	for _, o := range offs[1:] {
		fmt.Fprintf(&t, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&t, "trailer\n<< /Size 7 /Root 1 0 R /ID [<%s> <%s>] >>\nstartxref\n", id, id)
	tailFixed := t.Len() + len("\n%%EOF\n")

	// size = len(head) + fill + tailFixed + digits(xref offset), where the
	// xref offset is len(head) + fill + len(pdfEndStream).
	minSize := int64(len(head)+tailFixed) + int64(len(strconv.Itoa(len(head)+len(pdfEndStream))))
	if size < minSize {
		size = minSize
	}
	fill := int64(-1)
	for d := int64(1); d <= 20; d++ {
		l := size - int64(len(head)+tailFixed) - d
		if l >= 0 && int64(len(strconv.FormatInt(int64(len(head))+l+int64(len(pdfEndStream)), 10))) == d {
			fill = l
			break
		}
	}
	if fill < 0 { // cannot happen: one digit count always fits
		panic(fmt.Sprintf("sim: no PDF layout for %d bytes", size))
	}
	copy(head[lengthAt:], strconv.FormatInt(fill, 10))
	fmt.Fprintf(&t, "%d\n%%%%EOF\n", int64(len(head))+fill+int64(len(pdfEndStream)))

	base := make([]byte, pdfBlock)
	seedKey := sha256.Sum256(key[:])
	rand.NewChaCha8(seedKey).Read(base)
	return &pdfGen{head: head, tail: t.Bytes(), fill: fill, size: size, base: base}
}

// ReadAt implements io.ReaderAt over the whole document.
func (g *pdfGen) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("sim: negative offset")
	}
	if off >= g.size {
		return 0, io.EOF
	}
	n := 0
	hl := int64(len(g.head))
	for len(p) > 0 && off < g.size {
		var c int
		switch {
		case off < hl:
			c = copy(p, g.head[off:])
		case off < hl+g.fill:
			c = int(min(int64(len(p)), hl+g.fill-off))
			g.fillAt(p[:c], off-hl)
		default:
			c = copy(p, g.tail[off-hl-g.fill:])
		}
		p = p[c:]
		off += int64(c)
		n += c
	}
	if len(p) > 0 {
		return n, io.EOF
	}
	return n, nil
}

func (g *pdfGen) fillAt(p []byte, off int64) {
	var stamp [pdfStamp]byte
	for len(p) > 0 {
		blk := off / pdfBlock
		in := int(off % pdfBlock)
		n := copy(p, g.base[in:])
		if in < pdfStamp {
			var raw [8]byte
			binary.BigEndian.PutUint64(raw[:], uint64(blk))
			hex.Encode(stamp[:], raw[:])
			copy(p[:n], stamp[in:])
		}
		p = p[n:]
		off += int64(n)
	}
}

func (g *pdfGen) reader() *io.SectionReader { return io.NewSectionReader(g, 0, g.size) }

// PDFReader returns the exact bytes the simulator serves for a valid
// document of the given size, generated on the fly (constant memory). The
// bytes depend only on (seed, uuid, size); sizes below MinPDFSize are
// raised to it.
func PDFReader(seed int64, uuid string, size int64) io.ReadSeeker {
	return newPDFGen(seed, uuid, size).reader()
}

// PDFBytes returns the whole document PDFReader streams. For tests that
// compare files byte for byte; it holds the document in memory.
func PDFBytes(seed int64, uuid string, size int64) []byte {
	g := newPDFGen(seed, uuid, size)
	b := make([]byte, g.size)
	g.ReadAt(b, 0)
	return b
}

// pdfSHA256 hashes the generated document by streaming it.
func pdfSHA256(seed int64, uuid string, size int64) (string, int64) {
	g := newPDFGen(seed, uuid, size)
	h := sha256.New()
	buf := make([]byte, min(g.size, 256<<10))
	for off := int64(0); off < g.size; {
		n, _ := g.ReadAt(buf, off)
		h.Write(buf[:n])
		off += int64(n)
	}
	return hex.EncodeToString(h.Sum(nil)), g.size
}
