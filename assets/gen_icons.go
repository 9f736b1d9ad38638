//go:build ignore

// gen_icons draws the tray icons, one per state, and their macOS template
// versions: `go run gen_icons.go` in this folder. The Windows versions,
// multi-size ICOs, are made from the PNGs by packaging/windows/icogen.go
// (see assets.go). Shapes are drawn with 4×4 supersampling so edges stay smooth
// at 64 px; the tray scales them down.
package main

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
)

const size = 64

type shape func(x, y float64) bool

func circle(cx, cy, r float64) shape {
	return func(x, y float64) bool { return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r }
}

func rect(x0, y0, x1, y1 float64) shape {
	return func(x, y float64) bool { return x >= x0 && x <= x1 && y >= y0 && y <= y1 }
}

// segment is a thick line from (ax,ay) to (bx,by) with round ends.
func segment(ax, ay, bx, by, w float64) shape {
	return func(x, y float64) bool {
		dx, dy := bx-ax, by-ay
		t := math.Max(0, math.Min(1, ((x-ax)*dx+(y-ay)*dy)/(dx*dx+dy*dy)))
		px, py := ax+t*dx-x, ay+t*dy-y
		return px*px+py*py <= w*w/4
	}
}

// arc is a ring between radii r0 and r1 from angle a0 to a1 (radians, clockwise from east).
func arc(cx, cy, r0, r1, a0, a1 float64) shape {
	return func(x, y float64) bool {
		d := math.Hypot(x-cx, y-cy)
		if d < r0 || d > r1 {
			return false
		}
		a := math.Atan2(y-cy, x-cx)
		if a < 0 {
			a += 2 * math.Pi
		}
		return a >= a0 && a <= a1
	}
}

func triangle(ax, ay, bx, by, cx, cy float64) shape {
	sign := func(px, py, qx, qy, rx, ry float64) float64 { return (px-rx)*(qy-ry) - (qx-rx)*(py-ry) }
	return func(x, y float64) bool {
		d1, d2, d3 := sign(x, y, ax, ay, bx, by), sign(x, y, bx, by, cx, cy), sign(x, y, cx, cy, ax, ay)
		neg := d1 < 0 || d2 < 0 || d3 < 0
		pos := d1 > 0 || d2 > 0 || d3 > 0
		return !(neg && pos)
	}
}

func union(s ...shape) shape {
	return func(x, y float64) bool {
		for _, f := range s {
			if f(x, y) {
				return true
			}
		}
		return false
	}
}

type layer struct {
	s shape
	c color.NRGBA
}

func draw(name string, layers ...layer) {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var r, g, b, a float64
			for sy := 0; sy < 4; sy++ {
				for sx := 0; sx < 4; sx++ {
					x, y := float64(px)+(float64(sx)+0.5)/4, float64(py)+(float64(sy)+0.5)/4
					var c color.NRGBA
					for _, l := range layers {
						if l.s(x, y) {
							c = l.c
						}
					}
					fa := float64(c.A) / 255
					r, g, b, a = r+float64(c.R)*fa, g+float64(c.G)*fa, b+float64(c.B)*fa, a+fa
				}
			}
			if a > 0 {
				img.SetNRGBA(px, py, color.NRGBA{uint8(r / a), uint8(g / a), uint8(b / a), uint8(a / 16 * 255)})
			}
		}
	}
	f, err := os.Create(name)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		panic(err)
	}
}

// template is the macOS menu-bar version of an icon: a template image,
// which macOS draws in the menu bar's own colour (dark on a light bar,
// light on a dark one) from its alpha alone. The disc is opaque black and
// the white glyph a hole in it; the states differ by their glyphs.
func template(layers []layer) []layer {
	white := color.NRGBA{255, 255, 255, 255}
	out := make([]layer, len(layers))
	for i, l := range layers {
		out[i] = layer{l.s, color.NRGBA{A: 255}}
		if l.c == white {
			out[i].c = color.NRGBA{}
		}
	}
	return out
}

// icon draws a state's icon (name.png) and its template (name-template.png).
func icon(name string, layers ...layer) {
	draw(name+".png", layers...)
	draw(name+"-template.png", template(layers)...)
}

func main() {
	white := color.NRGBA{255, 255, 255, 255}
	disc := circle(32, 32, 30)
	icon("tray-idle", layer{disc, color.NRGBA{0x1e, 0x88, 0x4a, 255}},
		layer{union(segment(18, 33, 28, 43, 7), segment(28, 43, 46, 23, 7)), white})
	icon("tray-syncing", layer{disc, color.NRGBA{0x25, 0x6f, 0xe6, 255}},
		layer{union(arc(32, 32, 12, 18, 0.35, math.Pi-0.35), arc(32, 32, 12, 18, math.Pi+0.35, 2*math.Pi-0.35),
			triangle(8, 30, 22, 30, 15, 40), triangle(42, 34, 56, 34, 49, 24)), white})
	icon("tray-attention", layer{disc, color.NRGBA{0xd9, 0x4a, 0x1e, 255}},
		layer{union(segment(32, 15, 32, 37, 8), circle(32, 48, 4.5)), white})
	icon("tray-paused", layer{disc, color.NRGBA{0x6b, 0x72, 0x80, 255}},
		layer{union(rect(21, 18, 28, 46), rect(36, 18, 43, 46)), white})
	icon("tray-signedout", layer{disc, color.NRGBA{0x6b, 0x72, 0x80, 255}},
		layer{union(rect(19, 29, 45, 48), arc(32, 29, 7, 12, math.Pi, 2*math.Pi), rect(20, 22, 25, 29), rect(39, 22, 44, 29)), white},
		layer{rect(30, 35, 34, 42), color.NRGBA{0x6b, 0x72, 0x80, 255}})
}
