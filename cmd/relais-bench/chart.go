package main

import (
	"fmt"
	"html"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Series is one line of a chart.
type Series struct {
	Name   string
	Color  string
	Dashed bool
	X, Y   []float64
}

var clientsRE = regexp.MustCompile(`^(BenchmarkLoad\w+)/(\w+)/clients-(\d+)$`)

// LatencyChart draws p95 latency against concurrent clients: create + sign
// and the ten-year timeline on each engine, and the empty handler's floor.
func LatencyChart(r Results) string {
	type key struct{ bench, engine string }
	points := map[key][][2]float64{}
	var floor [][2]float64
	for name, m := range r {
		g := clientsRE.FindStringSubmatch(name)
		if g == nil {
			continue
		}
		n, _ := strconv.ParseFloat(g[3], 64)
		if v, ok := m["p95-ms"]; ok {
			points[key{g[1], g[2]}] = append(points[key{g[1], g[2]}], [2]float64{n, v})
		}
		if v, ok := m["bare-p95-ms"]; ok && g[1] == "BenchmarkLoadCreateSign" && g[2] == "sqlite" {
			floor = append(floor, [2]float64{n, v})
		}
	}
	colors := map[key]string{
		{"BenchmarkLoadCreateSign", "sqlite"}:   "#1f77b4",
		{"BenchmarkLoadCreateSign", "postgres"}: "#d62728",
		{"BenchmarkLoadHistory", "sqlite"}:      "#2ca02c",
		{"BenchmarkLoadHistory", "postgres"}:    "#9467bd",
	}
	label := map[string]string{"BenchmarkLoadCreateSign": "create + sign", "BenchmarkLoadHistory": "10-year timeline"}
	var series []Series
	for _, k := range []key{{"BenchmarkLoadCreateSign", "sqlite"}, {"BenchmarkLoadCreateSign", "postgres"}, {"BenchmarkLoadHistory", "sqlite"}, {"BenchmarkLoadHistory", "postgres"}} {
		if pts := points[k]; len(pts) > 0 {
			series = append(series, toSeries(label[k.bench]+", "+k.engine, colors[k], false, pts))
		}
	}
	if len(floor) > 0 {
		series = append(series, toSeries("empty HTTP handler (floor)", "#7f7f7f", true, floor))
	}
	return Chart("p95 latency against concurrent clients (no think time)", "concurrent clients", "p95 latency (ms)", series,
		"no latency measured in this run: scripts/bench runs BenchmarkLoadCreateSign and BenchmarkLoadHistory (web/)")
}

// ReplicationChart draws replication lag against event rate, from the
// sub-benchmarks rate-N of BenchmarkReplicationLag (network/); until that
// benchmark exists, it says so.
func ReplicationChart(r Results) string {
	bySeries := map[string][][2]float64{}
	var floor [][2]float64
	for _, name := range lagBenchmarks(r) {
		rate := rateOf(name)
		if rate < 0 {
			continue
		}
		v := r[name][lagMetric(r[name])]
		if lagMetric(r[name]) == "ns/op" {
			v /= 1e6 // ms
		}
		s := rateRE.ReplaceAllString(strings.TrimPrefix(name, "BenchmarkReplicationLag"), "")
		s = strings.Trim(strings.ReplaceAll(s, "//", "/"), "/")
		if s == "" {
			s = "lag"
		}
		bySeries[s] = append(bySeries[s], [2]float64{rate, v})
		if f, ok := r[name]["p95-floor-ms"]; ok { // the bare JetStream floor measured beside it
			floor = append(floor, [2]float64{rate, f})
		}
	}
	var names []string
	for n := range bySeries {
		names = append(names, n)
	}
	sort.Strings(names)
	palette := []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"}
	var series []Series
	for i, n := range names {
		series = append(series, toSeries(n, palette[i%len(palette)], false, bySeries[n]))
	}
	if len(floor) > 0 {
		series = append(series, toSeries("bare JetStream A → hub → B (floor)", "#7f7f7f", true, floor))
	}
	return Chart("Replication lag against event rate", "events per second", "lag (ms)", series,
		"not measured yet: no BenchmarkReplicationLag (network/) with rate-N sub-benchmarks in this run")
}

func toSeries(name, color string, dashed bool, pts [][2]float64) Series {
	sort.Slice(pts, func(i, j int) bool { return pts[i][0] < pts[j][0] })
	s := Series{Name: name, Color: color, Dashed: dashed}
	for _, p := range pts {
		s.X = append(s.X, p[0])
		s.Y = append(s.Y, p[1])
	}
	return s
}

// Chart draws series on logarithmic axes (both quantities span orders of
// magnitude) as a self-contained SVG; with no series it draws the note.
func Chart(title, xLabel, yLabel string, series []Series, empty string) string {
	const W, H, left, right, top, bottom = 760, 440, 70, 230, 40, 50
	pw, ph := float64(W-left-right), float64(H-top-bottom)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(title))
	var xs, ys []float64
	for _, s := range series {
		for i := range s.X {
			if s.X[i] > 0 && s.Y[i] > 0 && !math.IsInf(s.Y[i], 0) {
				xs = append(xs, s.X[i])
				ys = append(ys, s.Y[i])
			}
		}
	}
	if len(xs) == 0 {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%g" height="%g" fill="none" stroke="#999"/>`+"\n", left, top, pw, ph)
		fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle" fill="#555">%s</text>`+"\n", float64(left)+pw/2, float64(top)+ph/2, html.EscapeString(empty))
		b.WriteString("</svg>\n")
		return b.String()
	}
	x0, x1 := decades(xs, 2)
	y0, y1 := decades(ys, 10)
	px := func(x float64) float64 {
		return float64(left) + pw*(math.Log(x)-math.Log(x0))/(math.Log(x1)-math.Log(x0))
	}
	py := func(y float64) float64 {
		return float64(top) + ph*(1-(math.Log(y)-math.Log(y0))/(math.Log(y1)-math.Log(y0)))
	}
	// grid and ticks
	for x := x0; x <= x1*1.0001; x *= 2 {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e5e5e5"/>`+"\n", px(x), top, px(x), H-bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px(x), H-bottom+16, strconv.FormatFloat(x, 'f', -1, 64))
	}
	for y := y0; y <= y1*1.0001; y *= 10 {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e5e5"/>`+"\n", left, py(y), W-right, py(y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, py(y)+4, strconv.FormatFloat(y, 'f', -1, 64))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%g" height="%g" fill="none" stroke="#333"/>`+"\n", left, top, pw, ph)
	fmt.Fprintf(&b, `<text x="%g" y="%d" text-anchor="middle">%s</text>`+"\n", float64(left)+pw/2, H-12, html.EscapeString(xLabel))
	fmt.Fprintf(&b, `<text transform="translate(16 %g) rotate(-90)" text-anchor="middle">%s</text>`+"\n", float64(top)+ph/2, html.EscapeString(yLabel+", log scale"))
	for i, s := range series {
		var pts []string
		for k := range s.X {
			if s.X[k] > 0 && s.Y[k] > 0 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.X[k]), py(s.Y[k])))
			}
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", s.Color, dash, strings.Join(pts, " "))
		for _, p := range pts {
			xy := strings.Split(p, ",")
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", xy[0], xy[1], s.Color)
		}
		ly := top + 10 + 20*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", W-right+12, ly, W-right+36, ly, s.Color, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", W-right+42, ly+4, html.EscapeString(s.Name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// decades widens [min, max] of vs to whole powers of base.
func decades(vs []float64, base float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	l := math.Pow(base, math.Floor(math.Log(lo)/math.Log(base)))
	h := math.Pow(base, math.Ceil(math.Log(hi)/math.Log(base)))
	if h <= l {
		h = l * base
	}
	return l, h
}
