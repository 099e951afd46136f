package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkJournaledWrite/sqlite-2         	      50	   4911529 ns/op
BenchmarkBareInsert/sqlite-2             	      50	   2455764 ns/op
BenchmarkLoadCreateSign/sqlite/clients-1-2         	       8	  47327322 ns/op	         0.5040 bare-p95-ms	        44.75 p95-ms	        88.80 p95-ratio
BenchmarkLoadCreateSign/sqlite/clients-16-2         	       8	  47327322 ns/op	         1.2 bare-p95-ms	        326.7 p95-ms	        272 p95-ratio
BenchmarkADTDurableAck-2   	    6000	    600000 ns/op	      1650 msg/s	     66000 echo-msg/s
BenchmarkReplicationLag/rate-100-2   	    3	    1 ns/op	      12.5 p95-lag-ms
BenchmarkReplicationLag/rate-1000-2   	    3	    1 ns/op	      40 p95-lag-ms
PASS
`

// The table gives each measure beside its floor and their ratio: a time
// as a multiple of the floor, a rate as the share of the floor reached.
func TestTableRatios(t *testing.T) {
	r := Results{}
	r.Parse(sample)
	if v, ok := r.Get("BenchmarkLoadCreateSign/sqlite/clients-16", "p95-ms"); !ok || v != 326.7 {
		t.Fatalf("p95 of 16 clients: %v %v; parsed %v", v, ok, r)
	}
	md := Markdown(Meta{Mode: "quick"}, Rows(r), r, nil, nil)
	for _, want := range []string{
		"| One journaled write (db.Write: row + hash-chained entry) | sqlite | 4.91 ms/op | 2.46 ms/op (bare INSERT, own commit) | × 2 |",
		"| Prescription round trip: create + sign a 10-line cycle, API, 16 client(s), p95 | sqlite | 327 ms p95 | 1.2 ms p95 (empty HTTP handler, same clients) | × 272 |",
		"| HL7 ADT ingestion, durable acknowledgement | sqlite | 1650 msg/s | 66000 msg/s (bare MLLP echo over loopback) | 0.025 of the floor |",
		"Replication lag (rate-100)", "img/bench-latency.svg", "PostgreSQL was not measured",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "postgres |") {
		t.Errorf("a postgres row without a postgres measure:\n%s", md)
	}
}

// The charts are well-formed SVG, with one line per series, and say so
// when there is nothing to draw.
func TestCharts(t *testing.T) {
	r := Results{}
	r.Parse(sample)
	for name, svg := range map[string]string{"latency": LatencyChart(r), "replication": ReplicationChart(r), "empty": ReplicationChart(Results{})} {
		d := xml.NewDecoder(strings.NewReader(svg))
		for {
			if _, err := d.Token(); err != nil {
				if err.Error() != "EOF" {
					t.Errorf("%s: not well-formed: %v", name, err)
				}
				break
			}
		}
		lines := strings.Count(svg, "<polyline")
		switch name {
		case "latency":
			if lines != 2 || !strings.Contains(svg, "create + sign, sqlite") || !strings.Contains(svg, "empty HTTP handler") {
				t.Errorf("latency chart: %d lines\n%s", lines, svg)
			}
		case "replication":
			if lines != 1 {
				t.Errorf("replication chart: %d lines", lines)
			}
		case "empty":
			if lines != 0 || !strings.Contains(svg, "not measured yet") {
				t.Errorf("empty chart: %s", svg)
			}
		}
	}
}

// Only the generated section changes; the hand-written text stays.
func TestWriteSection(t *testing.T) {
	p := filepath.Join(t.TempDir(), "B.md")
	os.WriteFile(p, []byte("# Title\nhand text\n"+BeginMarker+"\nold table\n"+EndMarker+"\nafter\n"), 0o644)
	if err := WriteSection(p, "new table"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if got := string(b); got != "# Title\nhand text\n"+BeginMarker+"\nnew table\n"+EndMarker+"\nafter\n" {
		t.Errorf("got %q", got)
	}
	os.WriteFile(p, []byte("no markers"), 0o644)
	if err := WriteSection(p, "x"); err == nil {
		t.Error("a file without markers was rewritten")
	}
}

// Every Fuzz target of the repository is found, including the parsers'.
func TestFindFuzzTargets(t *testing.T) {
	got := map[string]bool{}
	for _, f := range FindFuzzTargets("../..") {
		got[f.Pkg+"."+f.Name] = true
	}
	for _, want := range []string{"./hl7.FuzzParse", "./clinical.FuzzDose", "./continuity.FuzzSnapshotFile", "./launch.FuzzVerify", "..FuzzProtocolImport"} {
		if want == "..FuzzProtocolImport" {
			want = "./..FuzzProtocolImport"
		}
		if !got[want] {
			t.Errorf("fuzz target %s not found (found %v)", want, got)
		}
	}
}
