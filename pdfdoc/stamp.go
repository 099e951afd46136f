package pdfdoc

import (
	"time"

	"github.com/relais-onco/relais"
)

// Stamp says where a document's data come from and who prints it; its
// fields are printed in the footer of every page, so that a printed sheet
// found later (or carried in a downtime pack) tells how old its data are.
type Stamp struct {
	// DataTime is the time of the data the document shows (the last journal
	// entry read), not the time of printing: it is what the footer says and
	// what the PDF's creation date is set to, so that the same data give
	// the same bytes. Required.
	DataTime time.Time
	Version  string   // Relais's version, e.g. relais.Version. Required.
	Pharmacy Pharmacy // the pharmacy (PUI) that makes and issues the document. Required.
	// Lang is "fr" (the default when empty) or "en": the language of the
	// document's own words; the data are printed as given.
	Lang string
	// Zone is the time zone times are shown in; nil means relais.DisplayZone
	// (Europe/Paris). The footer names it.
	Zone *time.Location
}

// Pharmacy is the hospital pharmacy (PUI) named on every document; a label
// must carry its name, address and telephone.
type Pharmacy struct {
	Name    string // e.g. "PUI – CHU de Rennes"
	Address string // one or more lines separated by "\n"
	Phone   string
}

func (s Stamp) zone() *time.Location {
	if s.Zone != nil {
		return s.Zone
	}
	return relais.DisplayZone
}

func (s Stamp) check(c *check, field string) {
	if s.DataTime.IsZero() {
		c.add(field+".data_time", "the data time is missing: give the time of the data the document shows (it is printed on every page)")
	}
	if s.Lang != "" && s.Lang != "fr" && s.Lang != "en" {
		c.add(field+".lang", "language %q is not available: use \"fr\" or \"en\"", s.Lang)
	}
	c.text(field+".version", s.Version, need, 40)
	c.text(field+".pharmacy.name", s.Pharmacy.Name, need, 120)
	c.multiline(field+".pharmacy.address", s.Pharmacy.Address, need, 300)
	c.text(field+".pharmacy.phone", s.Pharmacy.Phone, need, 40)
}

// Patient is a patient as documents show them: two identifiers at least
// (the identity traits — names, first name, birth date — and the hospital's
// patient id, IPP), as identity vigilance requires on every document that
// follows a preparation.
type Patient struct {
	BirthName string      // nom de naissance. Required.
	UsedName  string      // nom utilisé, when it differs from the birth name
	FirstName string      // premier prénom (of the birth certificate). Required.
	BirthDate relais.Date // Required.
	LocalID   string      // IPP, the hospital's patient id. Required.
	INS       string      // national health identifier (matricule INS), when qualified
}

func (p Patient) check(c *check, field string) {
	c.text(field+".birth_name", p.BirthName, need, 100)
	c.text(field+".used_name", p.UsedName, opt, 100)
	c.text(field+".first_name", p.FirstName, need, 100)
	c.date(field+".birth_date", p.BirthDate, need)
	c.text(field+".local_id", p.LocalID, need, 40)
	c.text(field+".ins", p.INS, opt, 40)
}
