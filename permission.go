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
	PermProtocolCompare  Permission = "protocol.compare" // compare the library with the other sites' (harmonisation)
	PermProtocolAdopt    Permission = "protocol.adopt"   // adopt another site's version as a new local draft
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
	PermAidAgreement      Permission = "aid.agreement"     // mutual aid: record and end agreements with support sites
	PermAidHandOver       Permission = "aid.handover"      // mutual aid: hand over, take back, receive shipments
	PermPublic            Permission = "public"            // no sign-in needed (health, sign-in page, OpenAPI)
	PermSignedIn          Permission = "signed_in"
	PermNetworkShare      Permission = "network.share" // share a patient's care with a site of the network, revoke a share
	PermNetworkLink       Permission = "network.link"  // accept or reject the link of a remote patient to a local one
)

var grants = map[Role][]Permission{
	RolePrescriber: {PermPatientRead, PermPatientWrite, PermNoteWrite, PermCatalogueRead, PermProtocolRead, PermProtocolCompare,
		PermTreatmentWrite, PermPrescribe, PermPrescriptionSign, PermOKToTreat, PermNetworkShare},
	RolePharmacist: {PermPatientRead, PermPatientWrite, PermNoteWrite, PermCatalogueRead, PermCatalogueWrite,
		PermProtocolRead, PermProtocolWrite, PermProtocolApprove, PermProtocolCompare, PermValidate, PermJournalRead,
		PermProductionRead, PermProductionPrepare, PermProductionCheck, PermProductionRelease, PermStockWrite, PermDispense,
		PermBillingExport, PermAidAgreement, PermAidHandOver, PermNetworkShare, PermNetworkLink},
	RoleTechnician: {PermPatientRead, PermNoteWrite, PermCatalogueRead, PermProtocolRead,
		PermProductionRead, PermProductionPrepare, PermProductionCheck, PermStockWrite, PermDispense},
	RoleNurse: {PermPatientRead, PermNoteWrite, PermCatalogueRead, PermProtocolRead,
		PermProductionRead, PermAdministerRecord},
	RolePharmAdmin: {PermPatientRead, PermCatalogueRead, PermCatalogueWrite, PermProtocolRead, PermProtocolWrite,
		PermProtocolApprove, PermProtocolCompare, PermProtocolAdopt, PermJournalRead, PermUserAdmin, PermAccessLogRead, PermAccessReview},
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
	PermProtocolCompare:   "compare the protocol library with the other sites' (harmonisation page)",
	PermProtocolAdopt:     "adopt another site's protocol version as a new local draft (then tested and activated as usual)",
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
	PermAidAgreement:      "record and end mutual-aid agreements (which sites may prepare for this one, for which drugs, when)",
	PermAidHandOver:       "hand preparations over to a support site, take them back, receive the support site's shipments",
	PermPublic:            "anyone, signed in or not (health check, sign-in, API description)",
	PermSignedIn:          "anyone signed in, whatever the role (who am I, own passkeys, sign out)",
	PermNetworkShare:      "share a patient's care with a site of the network (with the information given to the patient or parents), revoke a share",
	PermNetworkLink:       "accept or reject the proposed link between a patient of another site and a local patient",
}

// Permissions lists every permission, in the order of the constants above.
var Permissions = []Permission{PermPatientRead, PermPatientWrite, PermNoteWrite, PermCatalogueRead, PermCatalogueWrite,
	PermProtocolRead, PermProtocolWrite, PermProtocolApprove, PermProtocolCompare, PermProtocolAdopt, PermTreatmentWrite, PermPrescribe, PermPrescriptionSign,
	PermOKToTreat, PermValidate, PermJournalRead, PermUserAdmin, PermProductionRead, PermProductionPrepare, PermProductionCheck,
	PermProductionRelease, PermStockWrite, PermDispense, PermAdministerRecord, PermBillingExport, PermAccessLogRead, PermAccessReview,
	PermInterfaceAdmin, PermAidAgreement, PermAidHandOver, PermPublic, PermSignedIn, PermNetworkShare, PermNetworkLink}

// Description says what p allows ("" for an unknown permission).
func (p Permission) Description() string { return permissionText[p] }

// Valid reports whether p is a known permission.
func (p Permission) Valid() bool { _, ok := permissionText[p]; return ok }
