package pdfdoc

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The tests read the PDFs as a person's tools would: pdftotext and pdftoppm
// (Debian's poppler-utils) for the text and the pages, dmtxread (dmtx-utils)
// for the DataMatrix. .ci/run installs both.

var toolPackage = map[string]string{
	"pdftotext": "poppler-utils",
	"pdftoppm":  "poppler-utils",
	"dmtxread":  "dmtx-utils",
}

// needTools skips the test, saying what to install, when a tool is absent.
func needTools(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s is not installed (Debian package %s): install it to read the PDFs this test checks", n, toolPackage[n])
		}
	}
}

func render(t testing.TB, f func(io.Writer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := f(&b); err != nil {
		t.Fatalf("render: %v", err)
	}
	if !bytes.HasPrefix(b.Bytes(), []byte("%PDF-")) {
		t.Fatalf("render: the output is not a PDF")
	}
	return b.Bytes()
}

func writeTemp(t testing.TB, pdf []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// pdfPages returns the text of each page as pdftotext reads it in the
// order it was drawn (-raw: a wrapped paragraph's lines stay together).
func pdfPages(t testing.TB, pdf []byte) []string {
	t.Helper()
	needTools(t, "pdftotext")
	out, err := exec.Command("pdftotext", "-raw", "-enc", "UTF-8", writeTemp(t, pdf), "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	pages := strings.Split(string(out), "\f")
	if len(pages) > 0 && strings.TrimSpace(pages[len(pages)-1]) == "" {
		pages = pages[:len(pages)-1]
	}
	return pages
}

// oneLine makes every run of white space (line breaks of wrapped text
// included, and the no-break space) one space.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\n' || r == '\t' || r == '\r' || r == '\u00A0'
	}), " ")
}

// assertContains checks that text holds every mention, whatever the line
// breaks.
func assertContains(t *testing.T, what, text string, mentions ...string) {
	t.Helper()
	flat := oneLine(text)
	for _, m := range mentions {
		if !strings.Contains(flat, oneLine(m)) {
			t.Errorf("%s: %q is missing from the text:\n%s", what, m, text)
		}
	}
}

// assertFooters checks that every page's footer gives the data time, the
// version, the page number out of n and the register number(s) wanted.
func assertFooters(t *testing.T, pages []string, refs ...string) {
	t.Helper()
	for i, p := range pages {
		want := []string{"Données au 22/11/2026 14:05 (Europe/Paris)", "Relais 0.1.0",
			fmt.Sprintf("page %d/%d", i+1, len(pages))}
		if i < len(refs) {
			want = append(want, refs[i])
		}
		assertContains(t, fmt.Sprintf("footer of page %d", i+1), p, want...)
	}
}

// decodeDataMatrix renders a page of the PDF at 300 dpi (the area x, y, w, h
// in millimetres, or the whole page when w is 0) and returns what dmtxread
// decodes there.
func decodeDataMatrix(t testing.TB, pdf []byte, page int, x, y, w, h float64) string {
	t.Helper()
	needTools(t, "pdftoppm", "dmtxread")
	dir := t.TempDir()
	px := func(mm float64) string { return fmt.Sprint(int(mm / 25.4 * 300)) }
	args := []string{"-r", "300", "-png", "-f", fmt.Sprint(page), "-l", fmt.Sprint(page), "-singlefile"}
	if w > 0 {
		args = append(args, "-x", px(x), "-y", px(y), "-W", px(w), "-H", px(h))
	}
	args = append(args, writeTemp(t, pdf), filepath.Join(dir, "page"))
	if out, err := exec.Command("pdftoppm", args...).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	out, err := exec.Command("dmtxread", "-N1", "-m", "20000", filepath.Join(dir, "page.png")).Output()
	if err != nil {
		t.Fatalf("dmtxread found no DataMatrix on page %d: %v", page, err)
	}
	return string(out)
}
