package relais

// Permission names one thing a role may do. Every page and API route declares
// the permission it needs; the matrix below is the only place that grants
// them (and docs/permissions.md is written from it).
type Permission string

const (
	PermPatientRead      Permission = "patient.read"
	PermPatientWrite     Permission = "patient.write"
	PermNoteWrite        Permission = "note.write"
	PermCatalogueRead    Permission = "catalogue.read"
	PermCatalogueWrite   Permission = "catalogue.write"
	PermProtocolRead     Permission = "protocol.read"
	PermProtocolWrite    Permission = "protocol.write"   // write drafts
	PermProtocolApprove  Permission = "protocol.approve" // move a version through its lifecycle
	PermTreatmentWrite   Permission = "treatment.write"  // include, plan, stop
	PermPrescribe        Permission = "prescription.write"
	PermPrescriptionSign Permission = "prescription.sign"
	PermOKToTreat        Permission = "prescription.ok_to_treat"
	PermValidate         Permission = "prescription.validate"
	PermJournalRead      Permission = "journal.read"
	PermUserAdmin        Permission = "user.admin"
	PermPublic           Permission = "public" // no sign-in needed (health, sign-in page, OpenAPI)
	PermSignedIn         Permission = "signed_in"
)

var grants = map[Role][]Permission{
	RolePrescriber: {PermPatientRead, PermPatientWrite, PermNoteWrite, PermCatalogueRead, PermProtocolRead,
		PermTreatmentWrite, PermPrescribe, PermPrescriptionSign, PermOKToTreat},
	RolePharmacist: {PermPatientRead, PermPatientWrite, PermNoteWrite, PermCatalogueRead, PermCatalogueWrite,
		PermProtocolRead, PermProtocolWrite, PermProtocolApprove, PermValidate, PermJournalRead},
	RoleTechnician: {PermPatientRead, PermNoteWrite, PermCatalogueRead, PermProtocolRead},
	RoleNurse:      {PermPatientRead, PermNoteWrite, PermCatalogueRead, PermProtocolRead},
	RolePharmAdmin: {PermPatientRead, PermCatalogueRead, PermCatalogueWrite, PermProtocolRead, PermProtocolWrite,
		PermProtocolApprove, PermJournalRead, PermUserAdmin},
	RoleITAdmin:    {PermJournalRead, PermUserAdmin},
	RoleConsultant: {PermPatientRead, PermCatalogueRead, PermProtocolRead},
	RoleSystem:     nil, // Relais itself is not checked against the matrix
}

// Can reports whether role has permission p.
func (r Role) Can(p Permission) bool {
	if p == PermPublic || p == PermSignedIn {
		return true
	}
	if r == RoleSystem {
		return true
	}
	for _, g := range grants[r] {
		if g == p {
			return true
		}
	}
	return false
}

// Grants returns the permissions of role, for documentation and screens.
func Grants(r Role) []Permission { return append([]Permission(nil), grants[r]...) }
