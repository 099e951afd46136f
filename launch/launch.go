package launch

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

// Use is a launch token spent: its issuer and id are refused from then on.
type Use struct {
	Issuer    string
	JTI       string
	ExpiresAt time.Time
	UsedAt    time.Time
	UserID    string // the user's id at the EHR
	Purpose   string
	Remote    string
}

// ReplayStore remembers spent tokens, across restarts.
type ReplayStore interface {
	// UseLaunchToken records u; it fails with KindConflict when the token
	// was already used.
	UseLaunchToken(ctx context.Context, u Use) error
}

// Accounts finds or creates the account of an identity asserted by another
// system (relais.UserService.ExternalSignIn).
type Accounts interface {
	ExternalSignIn(ctx context.Context, id relais.ExternalIdentity) (relais.User, error)
}

// Service carries out launches.
type Service struct {
	Config   *Config
	Patients relais.PatientService
	Accounts Accounts
	Used     ReplayStore
	Now      func() time.Time // default time.Now
}

// Result is a successful launch: whom to sign in, which patient to open.
type Result struct {
	User           relais.User
	Patient        relais.Patient
	PatientCreated bool
	Purpose        string
	EHR            string
	TokenID        string
}

// IssuerPrefix marks the accounts made by launches: their identity
// provider is "launch:" and the EHR's id.
const IssuerPrefix = "launch:"

// Launch verifies a token, spends it, and finds (or creates) the user's
// account and the patient. remote is the client's address, for the record.
func (s *Service) Launch(ctx context.Context, raw, remote string) (Result, error) {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	c, ehr, err := Verify(s.Config, raw, now)
	if err != nil {
		return Result{}, err
	}
	// Spent before anything else: a token that fails further on is not
	// tried again, and a stolen one cannot race the legitimate use.
	if err := s.Used.UseLaunchToken(ctx, Use{Issuer: c.Issuer, JTI: c.ID, ExpiresAt: c.Expiry.Time(), UsedAt: now,
		UserID: c.User.ID, Purpose: c.Purpose, Remote: remote}); err != nil {
		if relais.ErrorKind(err) == relais.KindConflict {
			return Result{}, refused("this launch token was already used: a token opens Relais once; launch again from the EHR")
		}
		return Result{}, err
	}
	role, _ := ehr.Role(c.User.Role)
	name := strings.TrimSpace(c.User.Name)
	u, err := s.Accounts.ExternalSignIn(ctx, relais.ExternalIdentity{Issuer: IssuerPrefix + ehr.ID, Subject: c.User.ID,
		Username: Username(ehr.ID, c.User), Name: name, Role: role})
	if err != nil {
		return Result{}, err
	}
	sys := relais.WithActor(ctx, relais.Actor{Username: IssuerPrefix + ehr.ID, Name: "Appel contextuel / contextual launch " + ehr.ID,
		Role: relais.RoleSystem, Site: s.Config.Site})
	p, created, err := s.patient(sys, ehr, c.Patient)
	if err != nil {
		return Result{}, err
	}
	return Result{User: u, Patient: p, PatientCreated: created, Purpose: c.Purpose, EHR: ehr.ID, TokenID: c.ID}, nil
}

var unsafeUsername = regexp.MustCompile(`[^a-z0-9._@-]+`)

// Username is the Relais username of a launched user: rpps.NNNNNNNNNNN when
// the EHR gives the RPPS (the same person from two EHRs is one account only
// if both give it — each EHR's identity is its own otherwise), else the
// EHR's id and the user's id there.
func Username(ehrID string, u User) string {
	var s string
	if u.RPPS != "" {
		s = "rpps." + u.RPPS
	} else {
		s = ehrID + "." + u.ID
	}
	s = unsafeUsername.ReplaceAllString(strings.ToLower(s), "-")
	s = strings.TrimLeft(s, "._@-")
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// patient finds the record the token names, by IPP then INS, checks that
// the identity matches, or creates it when the EHR may.
func (s *Service) patient(ctx context.Context, ehr *EHR, tp Patient) (relais.Patient, bool, error) {
	const op = "launch.patient"
	var found []relais.Patient
	if tp.IPP != "" {
		ps, err := s.Patients.SearchPatients(ctx, tp.IPP, 50)
		if err != nil && relais.ErrorKind(err) != relais.KindInvalid {
			return relais.Patient{}, false, err
		}
		for _, p := range ps {
			if carriesIPP(p, tp.IPP) {
				found = append(found, p)
			}
		}
	}
	if len(found) == 0 && tp.INS != nil && tp.INS.Matricule != "" {
		ps, err := s.Patients.SearchPatients(ctx, tp.INS.Matricule, 50)
		if err != nil && relais.ErrorKind(err) != relais.KindInvalid {
			return relais.Patient{}, false, err
		}
		for _, p := range ps {
			if p.INS.Matricule == relais.CleanMatricule(tp.INS.Matricule) && p.INS.OID == tp.INS.OID {
				found = append(found, p)
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], false, sameIdentity(found[0], tp)
	case 0:
	default:
		return relais.Patient{}, false, relais.E(op, relais.KindConflict, fmt.Sprintf(
			"%d records match this patient's IPP or INS: identity monitoring must resolve the duplicate before a launch opens one", len(found)))
	}
	if !ehr.CreatePatients {
		return relais.Patient{}, false, relais.E(op, relais.KindNotFound,
			"this patient is not known to Relais and EHR "+ehr.ID+" may not create patients: send an ADT A28 first, or ask IT to allow creation")
	}
	if tp.IPP == "" {
		return relais.Patient{}, false, relais.Invalid(op, "patient.ipp", "the patient is not known to Relais: the IPP is needed to create the record")
	}
	p, err := s.Patients.CreatePatient(ctx, relais.PatientInput{IPP: tp.IPP, INS: *tp.INS, BirthName: tp.BirthName,
		UsedName: tp.UsedName, FirstNames: tp.FirstNames, BirthDate: tp.BirthDate, Sex: tp.Sex, BirthplaceCode: tp.BirthplaceCode})
	if err != nil {
		return p, false, err
	}
	return p, true, nil
}

func carriesIPP(p relais.Patient, ipp string) bool {
	if p.IPP == ipp {
		return true
	}
	for _, f := range p.FormerIPPs {
		if f.IPP == ipp {
			return true
		}
	}
	return false
}

// sameIdentity refuses to open a record whose strict traits differ from the
// EHR's: a launch must never show one patient's chemotherapy under another's
// name (RNIV: the identity is checked at every step).
func sameIdentity(p relais.Patient, tp Patient) error {
	var diffs []string
	if tp.BirthDate != "" && tp.BirthDate != p.BirthDate {
		diffs = append(diffs, fmt.Sprintf("birth date %s in the EHR, %s in Relais", tp.BirthDate, p.BirthDate))
	}
	if tp.BirthName != "" && relais.NormalizeName(tp.BirthName) != relais.NormalizeName(p.BirthName) {
		diffs = append(diffs, fmt.Sprintf("birth name %q in the EHR, %q in Relais", tp.BirthName, p.BirthName))
	}
	if tp.Sex != "" && tp.Sex != p.Sex && tp.Sex != relais.SexUnknown && p.Sex != relais.SexUnknown {
		diffs = append(diffs, fmt.Sprintf("sex %s in the EHR, %s in Relais", tp.Sex, p.Sex))
	}
	if tp.INS != nil && tp.INS.Matricule != "" && p.INS.Matricule != "" && relais.CleanMatricule(tp.INS.Matricule) != p.INS.Matricule {
		diffs = append(diffs, "a different INS")
	}
	if len(diffs) > 0 {
		return relais.E("launch.patient", relais.KindConflict, "the EHR's identity does not match Relais's record "+p.IPP+" ("+
			strings.Join(diffs, "; ")+"): nothing was opened; report it to identity monitoring (identitovigilance)")
	}
	return nil
}
