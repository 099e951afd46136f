package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/clinical"
)

// The cumulative anthracycline chart: the lifetime doxorubicin-equivalent
// dose after each cycle, against the limit, drawn server-side as inline SVG
// (no script), with the same numbers in a table beside it for those who do
// not see the chart.

type anthraChart struct {
	Width, Height          int
	Left, Right, Top, Base float64 // plot area, in SVG units
	Unit                   string
	Limit                  float64 // 0: no limit known
	LimitY                 float64
	Total                  float64
	Exceeds                bool
	Points                 []chartPoint
	Line                   string // polyline points
	YTicks                 []chartTick
}

type chartPoint struct {
	X, Y           float64
	PrescriptionID relais.ID
	Date           relais.Date
	Regimen        string
	Cycle          int
	Added, Total   float64
	Over           bool
}

type chartTick struct {
	Y     float64
	Value float64
}

// anthracyclineChart returns the chart of a history, or nil when the
// patient received no anthracycline. Cycles count as CumulativeTotals
// counts them: signed (and later) prescriptions, refused and cancelled
// lines left out.
func anthracyclineChart(h relais.History, limits []relais.CumulativeLimit) *anthraChart {
	c := &anthraChart{Width: 640, Height: 260, Left: 56, Right: 624, Top: 16, Base: 220, Unit: "mg/m²"}
	for _, l := range limits {
		if string(l.Class) == clinical.ClassAnthracycline && l.Unit == c.Unit {
			c.Limit = l.Limit
		}
	}
	// Doxorubicin-equivalent doses add up: each cycle's share is computed
	// alone (one pass, not one total per prefix), and the running total is
	// cleaned of the noise the sums leave.
	total := 0.0
	for _, pr := range h.Prescriptions {
		if pr.Status == relais.PrescriptionCancelled || pr.Status == relais.PrescriptionDraft || !hasAnthracycline(pr) {
			continue
		}
		shares, err := relais.CumulativeTotals([]relais.Prescription{pr}, "", nil)
		if err != nil {
			return nil
		}
		for _, t := range shares {
			if t.Class != clinical.ClassAnthracycline || t.Total == 0 {
				continue
			}
			total = cleanNoise(total + t.Total)
			c.Points = append(c.Points, chartPoint{PrescriptionID: pr.ID, Date: pr.StartDate, Regimen: pr.Regimen, Cycle: pr.Cycle,
				Added: t.Total, Total: total, Over: c.Limit > 0 && total > c.Limit})
		}
	}
	prev := total
	if len(c.Points) == 0 {
		return nil
	}
	c.Total = prev
	c.Exceeds = c.Limit > 0 && prev > c.Limit
	top := math.Max(c.Limit, prev) * 1.15
	step := niceStep(top / 5)
	top = math.Ceil(top/step) * step
	y := func(v float64) float64 { return round1(c.Base - v/top*(c.Base-c.Top)) }
	for v := 0.0; v <= top+step/2; v += step {
		c.YTicks = append(c.YTicks, chartTick{Y: y(v), Value: v})
	}
	if c.Limit > 0 {
		c.LimitY = y(c.Limit)
	}
	n := len(c.Points)
	dx := (c.Right - c.Left) / float64(n+1)
	pts := []string{fmt.Sprintf("%g,%g", c.Left, c.Base)}
	for i := range c.Points {
		c.Points[i].X = round1(c.Left + dx*float64(i+1))
		c.Points[i].Y = y(c.Points[i].Total)
		pts = append(pts, fmt.Sprintf("%g,%g", c.Points[i].X, c.Points[i].Y))
	}
	c.Line = strings.Join(pts, " ")
	return c
}

// hasAnthracycline reports whether a cycle has a line of the class (the
// class recorded on the line; CumulativeTotals also knows anthracyclines by
// name, so a line without a class is looked at too).
func hasAnthracycline(pr relais.Prescription) bool {
	for _, l := range pr.Lines {
		if l.DrugClass == "" || l.DrugClass == string(relais.ClassAnthracycline) {
			return true
		}
	}
	return false
}

// niceStep rounds a tick step up to 1, 2, 2.5 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*pow {
			return m * pow
		}
	}
	return 10 * pow
}

// cleanNoise removes the binary noise a subtraction leaves (100 − 50.1
// giving 49.900000000000006): 12 significant digits, clinical's rule 1
// (docs/calc.md), which changes a value by less than one part in 10¹¹.
func cleanNoise(x float64) float64 {
	v, err := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 12, 64), 64)
	if err != nil {
		return x
	}
	return v
}

// round1 keeps SVG coordinates short (a tenth of a unit is invisible).
func round1(v float64) float64 { return math.Round(v*10) / 10 }
