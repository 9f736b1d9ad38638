//go:build ignore

// icogen builds the Windows icon, assets/icon.ico, from assets/icon.png:
//
//	go run packaging/windows/icogen.go assets/icon.png assets/icon.ico
//
// and the tray icons, one per state, from the 64 px PNGs gen_icons.go draws,
// in the sizes Windows' notification area uses at 100, 125, 150 and 200 %
// (and 48 px for 300 %), so no display scales a 64 px image down blurrily:
//
//	go run packaging/windows/icogen.go -sizes 16,20,24,32,48 assets/tray-idle.png assets/tray-idle.ico
//
// The app icon's ICO holds 16, 32, 48 and 256 px images. The three small ones are
// 32-bit BGRA DIBs (what every Windows shell and resource compiler reads);
// the 256 px one is stored as PNG, as Windows Vista and later expect. The
// small sizes are scaled down with an exact area-weighted box filter on
// premultiplied alpha, so the output depends only on the input: running it
// again gives the same bytes (packaging/windows/check.sh compares them).
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

var sizes = []int{16, 32, 48, 256}

func main() {
	list := flag.String("sizes", "16,32,48,256", "the sizes the ICO holds, in px")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run icogen.go [-sizes 16,32,48,256] IN.png OUT.ico")
		os.Exit(2)
	}
	sizes = nil
	for _, f := range strings.Split(*list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 256 {
			fmt.Fprintf(os.Stderr, "icogen: bad size %q\n", f)
			os.Exit(2)
		}
		sizes = append(sizes, n)
	}
	if err := run(flag.Arg(0), flag.Arg(1)); err != nil {
		fmt.Fprintln(os.Stderr, "icogen:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	src, err := png.Decode(f)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	b := src.Bounds()
	if largest := slices.Max(sizes); b.Dx() != b.Dy() || b.Dx() < largest {
		return fmt.Errorf("%s: want a square image of at least %d px, got %dx%d", in, largest, b.Dx(), b.Dy())
	}
	var images [][]byte
	for _, s := range sizes {
		img := scale(src, s)
		var data []byte
		if s >= 256 {
			var buf bytes.Buffer
			if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img); err != nil {
				return err
			}
			data = buf.Bytes()
		} else {
			data = dib(img)
		}
		images = append(images, data)
	}
	return os.WriteFile(out, ico(sizes, images), 0o644)
}

// scale returns src resized to n×n. Each destination pixel is the average of
// the source area it covers, weighted by the covered fraction of each source
// pixel, computed on premultiplied colour so transparent pixels do not darken
// the edges.
func scale(src image.Image, n int) *image.NRGBA {
	b := src.Bounds()
	w := b.Dx()
	// Premultiplied source in float64, 0..1.
	pre := make([][4]float64, w*w)
	for y := 0; y < w; y++ {
		for x := 0; x < w; x++ {
			r, g, bl, a := src.At(b.Min.X+x, b.Min.Y+y).RGBA() // premultiplied, 16-bit
			pre[y*w+x] = [4]float64{float64(r) / 0xffff, float64(g) / 0xffff, float64(bl) / 0xffff, float64(a) / 0xffff}
		}
	}
	dst := image.NewNRGBA(image.Rect(0, 0, n, n))
	step := float64(w) / float64(n)
	for dy := 0; dy < n; dy++ {
		y0, y1 := float64(dy)*step, float64(dy+1)*step
		for dx := 0; dx < n; dx++ {
			x0, x1 := float64(dx)*step, float64(dx+1)*step
			var acc [4]float64
			var area float64
			for sy := int(y0); float64(sy) < y1 && sy < w; sy++ {
				wy := math.Min(y1, float64(sy+1)) - math.Max(y0, float64(sy))
				for sx := int(x0); float64(sx) < x1 && sx < w; sx++ {
					wx := math.Min(x1, float64(sx+1)) - math.Max(x0, float64(sx))
					wt := wx * wy
					p := pre[sy*w+sx]
					for i := range acc {
						acc[i] += p[i] * wt
					}
					area += wt
				}
			}
			for i := range acc {
				acc[i] /= area
			}
			c := color.NRGBA{A: to8(acc[3])}
			if acc[3] > 0 {
				c.R, c.G, c.B = to8(acc[0]/acc[3]), to8(acc[1]/acc[3]), to8(acc[2]/acc[3])
			}
			dst.SetNRGBA(dx, dy, c)
		}
	}
	return dst
}

func to8(v float64) uint8 {
	return uint8(math.Max(0, math.Min(255, math.Round(v*255))))
}

// dib encodes img as an icon DIB: a BITMAPINFOHEADER whose height counts
// both the colour image and the AND mask, 32-bit BGRA rows bottom-up, then a
// 1-bit AND mask (1 = transparent), rows padded to 4 bytes.
func dib(img *image.NRGBA) []byte {
	n := img.Bounds().Dx()
	maskStride := ((n + 31) / 32) * 4
	var buf bytes.Buffer
	le := func(v any) { binary.Write(&buf, binary.LittleEndian, v) }
	le(uint32(40))                   // biSize
	le(int32(n))                     // biWidth
	le(int32(2 * n))                 // biHeight: XOR + AND
	le(uint16(1))                    // biPlanes
	le(uint16(32))                   // biBitCount
	le(uint32(0))                    // biCompression: BI_RGB
	le(uint32(n*n*4 + maskStride*n)) // biSizeImage
	le(int32(0))                     // biXPelsPerMeter
	le(int32(0))                     // biYPelsPerMeter
	le(uint32(0))                    // biClrUsed
	le(uint32(0))                    // biClrImportant
	for y := n - 1; y >= 0; y-- {
		for x := 0; x < n; x++ {
			c := img.NRGBAAt(x, y)
			buf.Write([]byte{c.B, c.G, c.R, c.A})
		}
	}
	for y := n - 1; y >= 0; y-- {
		row := make([]byte, maskStride)
		for x := 0; x < n; x++ {
			if img.NRGBAAt(x, y).A == 0 {
				row[x/8] |= 0x80 >> (x % 8)
			}
		}
		buf.Write(row)
	}
	return buf.Bytes()
}

// ico writes the container: ICONDIR, one ICONDIRENTRY per image, the images.
func ico(sizes []int, images [][]byte) []byte {
	var buf bytes.Buffer
	le := func(v any) { binary.Write(&buf, binary.LittleEndian, v) }
	le(uint16(0))          // reserved
	le(uint16(1))          // type: icon
	le(uint16(len(sizes))) // count
	offset := 6 + 16*len(sizes)
	for i, s := range sizes {
		dim := uint8(s)
		if s >= 256 {
			dim = 0 // 0 means 256
		}
		buf.Write([]byte{dim, dim, 0, 0}) // width, height, colours, reserved
		le(uint16(1))                     // planes
		le(uint16(32))                    // bits per pixel
		le(uint32(len(images[i])))
		le(uint32(offset))
		offset += len(images[i])
	}
	for _, img := range images {
		buf.Write(img)
	}
	return buf.Bytes()
}
