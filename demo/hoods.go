package demo

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/relais-onco/relais"
)

// The main site's compounding equipment: an isolator and a biological
// safety cabinet, and the day's compounded preparations planned in them,
// twenty minutes apart from 8:30 (Europe/Paris) in each hood.

// Hoods are the demo's hoods of the main site.
var Hoods = []relais.Hood{
	{Name: "Isolateur 1", Kind: relais.HoodIsolator, Active: true, Comment: "isolateur 4 gants, salle blanche A"},
	{Name: "Hotte PSM 2", Kind: relais.HoodCabinet, Active: true, Comment: "poste de sécurité microbiologique de type II"},
}

// hoodStore is what loadHoods needs; a store without hoods is left alone.
type hoodStore interface {
	relais.HoodService
	Preparations(ctx context.Context, f relais.PreparationFilter) ([]relais.Preparation, error)
}

// loadHoods creates the hoods and plans every compounded preparation still
// to be made in one of them, as the pharmacist would (by act, the
// pharmacist of the demo).
func loadHoods(ctx context.Context, db any, pharmacist context.Context) error {
	hs, ok := db.(hoodStore)
	if !ok {
		return nil
	}
	var hoods []relais.Hood
	for _, h := range Hoods {
		made, err := hs.CreateHood(ctx, h)
		if err != nil {
			return err
		}
		hoods = append(hoods, made)
	}
	preps, err := hs.Preparations(pharmacist, relais.PreparationFilter{})
	if err != nil {
		return err
	}
	sort.SliceStable(preps, func(i, j int) bool {
		if preps[i].AdministrationDate != preps[j].AdministrationDate {
			return preps[i].AdministrationDate < preps[j].AdministrationDate
		}
		return preps[i].CreatedAt.Before(preps[j].CreatedAt)
	})
	next := map[relais.Date][]int{} // per day, the next slot number in each hood
	for _, p := range preps {
		if p.CanAssignHood() != nil {
			continue
		}
		n := next[p.AdministrationDate]
		if n == nil {
			n = make([]int, len(hoods))
			next[p.AdministrationDate] = n
		}
		// The hood with the fewest preparations that day (the first on a tie).
		k := 0
		for i := range n {
			if n[i] < n[k] {
				k = i
			}
		}
		day := p.AdministrationDate.Time()
		slot := time.Date(day.Year(), day.Month(), day.Day(), 8, 30, 0, 0, relais.DisplayZone).Add(time.Duration(n[k]) * 20 * time.Minute)
		if _, err := hs.AssignHood(pharmacist, p.ID, relais.AssignHoodRequest{HoodID: hoods[k].ID, Slot: slot.UTC()}); err != nil {
			return fmt.Errorf("preparation %s: %w", p.Display(), err)
		}
		n[k]++
	}
	return nil
}
