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
	// Pharmacy production.
	PermProductionRead    Permission = "production.read"     // preparations, register, leftovers, slips, plans
	PermProductionPrepare Permission = "production.prepare"  // issue worksheets, record production, leftovers
	PermProductionCheck   Permission = "production.check"    // the second person's check
	PermProductionRelease Permission = "production.release"  // release, reject, cancel, annotate the register
	PermStockWrite        Permission = "stock.write"         // receive lots
	PermDispense          Permission = "production.dispense" // delivery slips
	PermAdministerRecord  Permission = "administration.record"
	PermBillingExport     Permission = "billing.export"
	PermAccessLogRead     Permission = "access_log.read"   // a patient's access history, break-the-glass accesses
	PermAccessReview      Permission = "access_log.review" // review a break-the-glass access
	PermInterfaceAdmin    Permission = "interface.admin"   // HL7 message log and replay, outbox (IT)
	PermPublic            Permission = "public"            // no sign-in needed (health, sign-in page, OpenAPI)
	PermSignedIn          Permission = "signed_in"
)

var grants = map[Role][]Permission{
	RolePrescriber: {PermPatientRead, PermPatientWrite, PermNoteWrite, PermCatalogueRead, PermProtocolRead,
		PermTreatmentWrite, PermPrescribe, PermPrescriptionSign, PermOKToTreat},
	RolePharmacist: {PermPatientRead, PermPatientWrite, PermNoteWrite, PermCatalogueRead, PermCatalogueWrite,
		PermProtocolRead, PermProtocolWrite, PermProtocolApprove, PermValidate, PermJournalRead,
		PermProductionRead, PermProductionPrepare, PermProductionCheck, PermProductionRelease, PermStockWrite, PermDispense,
		PermBillingExport},
	RoleTechnician: {PermPatientRead, PermNoteWrite, PermCatalogueRead, PermProtocolRead,
		PermProductionRead, PermProductionPrepare, PermProductionCheck, PermStockWrite, PermDispense},
	RoleNurse: {PermPatientRead, PermNoteWrite, PermCatalogueRead, PermProtocolRead,
		PermProductionRead, PermAdministerRecord},
	RolePharmAdmin: {PermPatientRead, PermCatalogueRead, PermCatalogueWrite, PermProtocolRead, PermProtocolWrite,
		PermProtocolApprove, PermJournalRead, PermUserAdmin, PermAccessLogRead, PermAccessReview},
	RoleITAdmin:    {PermJournalRead, PermUserAdmin, PermInterfaceAdmin},
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

// permissionText says what each permission allows, for docs/permissions.md
// and the screens that manage accounts. A permission added above without a
// line here fails the documentation test.
var permissionText = map[Permission]string{
	PermPatientRead:       "read patients of the user's site (or shared with it): identity, measurements, notes, treatments, history",
	PermPatientWrite:      "create and correct patients, allergies, sharing, measurements; merge and change local ids",
	PermNoteWrite:         "write notes on a patient, prescription or preparation",
	PermCatalogueRead:     "read the drug catalogue",
	PermCatalogueWrite:    "change the drug catalogue",
	PermProtocolRead:      "read the protocol library",
	PermProtocolWrite:     "write protocol drafts",
	PermProtocolApprove:   "move a protocol version through its lifecycle (approve, activate, retire)",
	PermTreatmentWrite:    "include a patient in a protocol, plan and stop treatments",
	PermPrescribe:         "prescribe cycles, adjust doses with a reason, postpone, cancel",
	PermPrescriptionSign:  "sign a cycle prescription",
	PermOKToTreat:         "give a day's OK-to-treat",
	PermValidate:          "validate prescriptions line by line (pharmaceutical validation)",
	PermJournalRead:       "read the journal (audit trail)",
	PermUserAdmin:         "manage accounts: create, change role, disable, unlock, issue password-reset links and API tokens",
	PermInterfaceAdmin:    "see the HL7 messages received and the documents sent (outbox), replay a message, retry a stuck document",
	PermAccessLogRead:     "read a patient's access history and the break-the-glass accesses",
	PermAccessReview:      "review break-the-glass accesses",
	PermProductionRead:    "read preparations, the preparation register, leftover vials, stock, delivery slips and administration plans",
	PermProductionPrepare: "propose and issue compounding worksheets, record production (vials, lots, volumes, weights) and leftover vials",
	PermProductionCheck:   "check a preparation as the second person",
	PermProductionRelease: "release, reject or cancel preparations; annotate the preparation register",
	PermStockWrite:        "receive product lots into stock; set control tolerances",
	PermDispense:          "make delivery slips (dispensing to wards)",
	PermAdministerRecord:  "record administrations (bedside scan, times, volumes, incidents) or their absence; receive delivery slips",
	PermBillingExport:     "export the liste-en-sus billing lines (FICHCOMP)",
	PermPublic:            "anyone, signed in or not (health check, sign-in, API description)",
	PermSignedIn:          "anyone signed in, whatever the role (who am I, own passkeys, sign out)",
}

// Permissions lists every permission, in the order of the constants above.
var Permissions = []Permission{PermPatientRead, PermPatientWrite, PermNoteWrite, PermCatalogueRead, PermCatalogueWrite,
	PermProtocolRead, PermProtocolWrite, PermProtocolApprove, PermTreatmentWrite, PermPrescribe, PermPrescriptionSign,
	PermOKToTreat, PermValidate, PermJournalRead, PermUserAdmin, PermProductionRead, PermProductionPrepare, PermProductionCheck,
	PermProductionRelease, PermStockWrite, PermDispense, PermAdministerRecord, PermBillingExport, PermAccessLogRead, PermAccessReview,
	PermInterfaceAdmin, PermPublic, PermSignedIn}

// Description says what p allows ("" for an unknown permission).
func (p Permission) Description() string { return permissionText[p] }

// Valid reports whether p is a known permission.
func (p Permission) Valid() bool { _, ok := permissionText[p]; return ok }
