package pdfdoc

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// A label made under a mutual-aid agreement (issue 12) carries both
// pharmacies: the one that prepared (the stamp's) and the one it was made
// for. At 80×40 the extra mention may not fit: then the label is refused,
// never printed without it.
func TestLabelMutualAid(t *testing.T) {
	for _, c := range []struct {
		size LabelSize
		for_ string
	}{
		{Label100x50, "CH des Landes"},
		{LabelA4, "PUI du CH des Landes, tél. 05 58 00 00 00"},
	} {
		d := testLabel()
		d.PreparedFor = c.for_
		pdf := render(t, func(w io.Writer) error { return Label(w, d, c.size) })
		pages := pdfPages(t, pdf)
		assertContains(t, c.size.Name+" mutual-aid label", pages[0], append(labelMentions,
			"Préparé par PUI – CHU de Rennes, Unité de reconstitution des cytotoxiques", "pour "+c.for_+" (entraide)")...)
	}
	d := testLabel()
	d.PreparedFor = "PUI du CH des Landes, tél. 05 58 00 00 00"
	if err := Label(io.Discard, d, Label80x40); err != nil && !errors.Is(err, ErrDoesNotFit) {
		t.Fatalf("80×40: %v", err)
	}
	// Without it, the label says nothing of mutual aid.
	pdf := render(t, func(w io.Writer) error { return Label(w, testLabel(), Label100x50) })
	if p := oneLine(pdfPages(t, pdf)[0]); strings.Contains(p, "entraide") {
		t.Errorf("a site's own label mentions mutual aid: %s", p)
	}
}
