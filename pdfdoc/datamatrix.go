package pdfdoc

import (
	"strconv"
	"strings"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/datamatrix"
)

// PreparationCodePrefix starts the DataMatrix content of a preparation, so
// that a scanner reading a code of another kind (a drug's GS1 code, a
// wristband) knows at once that it is not a preparation.
const PreparationCodePrefix = "RLS:PREP:"

// PreparationCode is the DataMatrix content for a preparation id.
func PreparationCode(id string) string { return PreparationCodePrefix + id }

// ParsePreparationCode returns the preparation id in a scanned DataMatrix
// content, and false when the content is not a preparation's.
func ParsePreparationCode(s string) (string, bool) {
	id, ok := strings.CutPrefix(s, PreparationCodePrefix)
	return id, ok && id != ""
}

// quietModules is the blank margin kept around a symbol, in modules. ISO/IEC
// 16022 asks for one module; two spare the scanner a neighbouring rule.
const quietModules = 2

// matrix is an encoded DataMatrix symbol.
type matrix struct {
	cols, rows int
	dark       []bool // row-major
}

func encodeMatrix(content string) (*matrix, error) {
	bc, err := datamatrix.Encode(content)
	if err != nil {
		return nil, err
	}
	b := bc.Bounds()
	m := &matrix{cols: b.Dx(), rows: b.Dy(), dark: make([]bool, b.Dx()*b.Dy())}
	fg := barcode.ColorScheme16.Foreground
	for y := 0; y < m.rows; y++ {
		for x := 0; x < m.cols; x++ {
			m.dark[y*m.cols+x] = bc.At(b.Min.X+x, b.Min.Y+y) == fg
		}
	}
	return m, nil
}

// side is the symbol's width with its quiet zone, for a module size.
func (m *matrix) side(module float64) float64 {
	return float64(m.cols+2*quietModules) * module
}

// draw paints the symbol with its quiet zone's top-left corner at (x, y):
// each row's runs of dark modules are filled rectangles of one path, so
// the modules have sharp edges at any resolution and abutting rectangles
// leave no seam (one fill of the union).
func (w *writer) drawMatrix(m *matrix, x, y, module float64) {
	k := w.pdf.GetConversionRatio()
	x0 := x + quietModules*module
	y0 := y + quietModules*module
	var b []byte
	b = append(b, "q 0 g\n"...)
	num := func(v float64) {
		b = strconv.AppendFloat(b, v, 'f', 3, 64)
		b = append(b, ' ')
	}
	for r := 0; r < m.rows; r++ {
		for c := 0; c < m.cols; {
			if !m.dark[r*m.cols+c] {
				c++
				continue
			}
			start := c
			for c < m.cols && m.dark[r*m.cols+c] {
				c++
			}
			num((x0 + float64(start)*module) * k)
			num((w.ph - y0 - float64(r+1)*module) * k)
			num(float64(c-start) * module * k)
			num(module * k)
			b = append(b, "re\n"...)
		}
	}
	b = append(b, "f\nQ"...)
	w.pdf.RawWriteStr(string(b))
}
