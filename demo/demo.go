// Package demo builds Relais's demonstration data through the domain services,
// so that every demo row is journaled like real work: a university hospital
// and three general hospitals, demo accounts for every role, a protocol
// library of real regimens written from cited public sources, and patients
// with several cycles of history.
package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/relais-onco/relais"
)

// Sites of the demo region (fictitious names for real kinds of hospital).
var (
	MainSite = relais.Site{ID: "chu-aquitaine", Name: "CHU Aquitaine (démo)", Kind: "chu"}
	Sites    = []relais.Site{
		MainSite,
		{ID: "chg-landes", Name: "CH des Landes (démo)", Kind: "chg"},
		{ID: "chg-dordogne", Name: "CH de Dordogne (démo)", Kind: "chg"},
		{ID: "chg-charente", Name: "CH de Charente (démo)", Kind: "chg"},
	}
)

// Password is the password of every demo account. Demo only.
const Password = "relais-demo"

// Login is a demo account to print.
type Login struct {
	Username, Password, Name string
	Role                     relais.Role
}

// Users are the demo accounts, one or more per role.
var Users = []relais.User{
	{Username: "dr.martin", Name: "Dr Claire Martin", Role: relais.RolePrescriber},
	{Username: "ph.durand", Name: "Dr Paul Durand (pharmacien)", Role: relais.RolePharmacist},
	{Username: "prep.bernard", Name: "Julie Bernard (préparatrice)", Role: relais.RoleTechnician},
	{Username: "ide.petit", Name: "Sophie Petit (IDE)", Role: relais.RoleNurse},
	{Username: "admin.pharma", Name: "Marc Leroy (admin. pharmacie)", Role: relais.RolePharmAdmin},
	{Username: "admin.dsi", Name: "Nadia Roux (DSI)", Role: relais.RoleITAdmin},
	{Username: "consult.reg", Name: "Dr Hugo Faure (consultant régional)", Role: relais.RoleConsultant},
}

// Store is what the demo loader needs.
type Store interface {
	relais.UserService
	SaveSite(ctx context.Context, s relais.Site) error
	LibraryStore
	PatientStore
}

// Options tune the demo.
type Options struct {
	// Patients is how many patients to create (40 when zero).
	Patients int
	// Seed makes the patients reproducible (1 when zero).
	Seed uint64
	// Now is the demo's "today" (the current time when zero).
	Now time.Time
}

// Load fills an empty database with the demo and returns the logins.
func Load(ctx context.Context, db Store, opts Options) ([]Login, error) {
	ctx = relais.WithActor(ctx, relais.SystemActor(MainSite.ID))
	for _, s := range Sites {
		if err := db.SaveSite(ctx, s); err != nil {
			return nil, err
		}
	}
	var logins []Login
	for _, u := range Users {
		if _, err := db.CreateUser(ctx, u, Password); err != nil {
			return nil, err
		}
		logins = append(logins, Login{Username: u.Username, Password: Password, Name: u.Name, Role: u.Role})
	}
	if err := LoadLibrary(ctx, db); err != nil {
		return nil, fmt.Errorf("protocol library: %w", err)
	}
	users, err := db.Users(ctx)
	if err != nil {
		return nil, err
	}
	var who Clinicians
	for _, u := range users {
		switch u.Username {
		case "dr.martin":
			who.Prescriber = relais.WithActor(ctx, u.Actor())
		case "ph.durand":
			who.Pharmacist = relais.WithActor(ctx, u.Actor())
		}
	}
	n, seed, now := opts.Patients, opts.Seed, opts.Now
	if n == 0 {
		n = 40
	}
	if seed == 0 {
		seed = 1
	}
	if now.IsZero() {
		now = relais.Now()
	}
	if err := LoadPatients(ctx, db, who, n, seed, now); err != nil {
		return nil, err
	}
	if err := loadHoods(ctx, db, who.Pharmacist); err != nil {
		return nil, fmt.Errorf("hoods: %w", err)
	}
	return logins, nil
}
