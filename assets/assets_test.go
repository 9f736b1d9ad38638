package assets

import (
	"bytes"
	"encoding/binary"
	"image/png"
	"slices"
	"testing"
)

var trayStates = []string{"idle", "syncing", "attention", "paused", "signedout"}

// The Windows tray icons hold the sizes the notification area draws at
// 100, 125, 150, 200 and 300 % (16, 20, 24, 32, 48 px), each a 32-bit
// image of its own size, so no display scales one down.
func TestTrayICOsHoldEverySize(t *testing.T) {
	for _, st := range trayStates {
		b := Icon("tray-" + st + ".ico")
		le := binary.LittleEndian
		if len(b) < 6 || le.Uint16(b[0:]) != 0 || le.Uint16(b[2:]) != 1 {
			t.Fatalf("%s: not an ICO", st)
		}
		n := int(le.Uint16(b[4:]))
		var sizes []int
		for i := range n {
			e := b[6+16*i : 6+16*i+16]
			w, h := int(e[0]), int(e[1])
			size, off := int(le.Uint32(e[8:])), int(le.Uint32(e[12:]))
			if off+size > len(b) || size < 40 {
				t.Fatalf("%s: entry %d points outside the file", st, i)
			}
			// The image itself: a BITMAPINFOHEADER of that size (height
			// doubled for the AND mask), 32 bits per pixel.
			dib := b[off : off+size]
			if le.Uint32(dib[0:]) != 40 || int(le.Uint32(dib[4:])) != w || int(le.Uint32(dib[8:])) != 2*h || le.Uint16(dib[14:]) != 32 {
				t.Fatalf("%s: entry %d (%dx%d) holds another image", st, i, w, h)
			}
			if w != h {
				t.Fatalf("%s: %dx%d", st, w, h)
			}
			sizes = append(sizes, w)
		}
		if !slices.Equal(sizes, []int{16, 20, 24, 32, 48}) {
			t.Errorf("%s: sizes %v, want 16, 20, 24, 32, 48", st, sizes)
		}
	}
}

// The macOS template icons are monochrome: black with alpha (macOS draws
// them in the menu bar's colour from the alpha alone), and each state's
// glyph differs, since colour cannot tell them apart.
func TestTrayTemplatesAreMonochrome(t *testing.T) {
	seen := map[string]string{}
	for _, st := range trayStates {
		name := "tray-" + st + "-template.png"
		img, err := png.Decode(bytes.NewReader(Icon(name)))
		if err != nil {
			t.Fatal(err)
		}
		var opaque, clear int
		var alpha bytes.Buffer
		bd := img.Bounds()
		for y := bd.Min.Y; y < bd.Max.Y; y++ {
			for x := bd.Min.X; x < bd.Max.X; x++ {
				r, g, b, a := img.At(x, y).RGBA()
				if r != 0 || g != 0 || b != 0 {
					t.Fatalf("%s: a coloured pixel at %d,%d", name, x, y)
				}
				alpha.WriteByte(byte(a >> 8))
				switch a {
				case 0xffff:
					opaque++
				case 0:
					clear++
				}
			}
		}
		if opaque < bd.Dx()*bd.Dy()/4 || clear < bd.Dx()*bd.Dy()/4 {
			t.Errorf("%s: %d opaque and %d clear pixels: no shape", name, opaque, clear)
		}
		if other, ok := seen[alpha.String()]; ok {
			t.Errorf("%s and %s look the same", st, other)
		}
		seen[alpha.String()] = st
	}
}
