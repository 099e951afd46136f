package pdfdoc

import (
	"fmt"
	"strings"
	"time"
)

// words are the documents' own words, French first then English. They are
// encoded to Windows-1252 once, at start-up; a word the fonts cannot print
// is a programming error caught by the package's tests.
var words = map[string][2]string{
	// footer and common
	"footer.data":     {"Données au %s (%s)", "Data as of %s (%s)"},
	"footer.register": {"N° ordonnancier %s", "Register no. %s"},
	"footer.range":    {"N° ordonnancier %s à %s (%d)", "Register no. %s to %s (%d)"},
	"footer.none":     {"N° ordonnancier : aucun sur cette page", "Register no.: none on this page"},
	"footer.page":     {"page %d/%d", "page %d/%d"},
	"continued":       {"(suite)", "(continued)"},
	"tel":             {"Tél. %s", "Tel. %s"},
	"register_no":     {"N° ordonnancier", "Register no."},

	// patient
	"patient":     {"Patient", "Patient"},
	"birth_name":  {"Nom de naissance", "Birth name"},
	"used_name":   {"Nom utilisé", "Used name"},
	"first_name":  {"Prénom", "First name"},
	"birth_date":  {"Né(e) le", "Birth date"},
	"ipp":         {"IPP", "Local id (IPP)"},
	"ins":         {"INS", "INS"},
	"weight":      {"Poids", "Weight"},
	"height":      {"Taille", "Height"},
	"bsa":         {"Surface corporelle", "Body surface area"},
	"measured_on": {"Poids et taille mesurés le", "Weight and height measured on"},

	// worksheet
	"ws.prep_id":        {"Identifiant de la préparation : %s", "Preparation id: %s"},
	"ws.title":          {"FICHE DE FABRICATION", "COMPOUNDING WORKSHEET"},
	"ws.prescription":   {"Prescription", "Prescription"},
	"ws.protocol":       {"Protocole", "Protocol"},
	"ws.cycle_day":      {"Cure / jour", "Cycle / day"},
	"ws.prescriber":     {"Prescripteur", "Prescriber"},
	"ws.admin_date":     {"Date d'administration", "Administration date"},
	"ws.validated_by":   {"Validation pharmaceutique", "Pharmaceutical validation"},
	"ws.drug":           {"Médicament et dose", "Drug and dose"},
	"ws.inn":            {"DCI", "INN"},
	"ws.dose":           {"Dose", "Dose"},
	"ws.derivation":     {"Calcul de la dose", "How the dose was computed"},
	"ws.product":        {"Produit", "Product"},
	"ws.brand":          {"Spécialité", "Brand"},
	"ws.ucd":            {"Code UCD", "UCD code"},
	"ws.strength":       {"Dosage / présentation", "Strength / presentation"},
	"ws.vials":          {"Flacons utilisés", "Vials used"},
	"ws.vial_kind":      {"Flacon", "Vial"},
	"ws.vial_new":       {"neuf", "new"},
	"ws.vial_leftover":  {"reliquat", "leftover"},
	"ws.lot":            {"Lot", "Lot"},
	"ws.lot_expiry":     {"Péremption", "Expiry"},
	"ws.use_before_lc":  {"à utiliser avant", "use before"},
	"ws.quantity":       {"Quantité prélevée", "Quantity taken"},
	"ws.volume":         {"Volume à prélever", "Volume to withdraw"},
	"ws.reconstitution": {"Reconstitution, dilution", "Reconstitution, dilution"},
	"ws.diluent":        {"Diluant", "Diluent"},
	"ws.container":      {"Contenant", "Container"},
	"ws.bag_volume":     {"Volume du contenant", "Container volume"},
	"ws.final_volume":   {"Volume final", "Final volume"},
	"ws.concentration":  {"Concentration finale", "Final concentration"},
	"ws.route":          {"Voie", "Route"},
	"ws.storage":        {"Conservation", "Storage"},
	"ws.expiry":         {"Date limite d'utilisation", "Use before"},
	"ws.steps":          {"Étapes de fabrication", "Compounding steps"},
	"ws.step_no":        {"N°", "No."},
	"ws.step":           {"Étape", "Step"},
	"ws.done":           {"Fait", "Done"},
	"ws.initials":       {"Préparateur (visa)", "Technician (initials)"},
	"ws.checker":        {"Contrôle (visa)", "Check (initials)"},
	"ws.controls":       {"Contrôles et libération", "Checks and release"},
	"ws.measures":       {"Volume final mesuré : ____________ mL        Masse mesurée (contrôle gravimétrique) : ____________ g", "Measured final volume: ____________ mL        Measured weight (gravimetric check): ____________ g"},
	"ws.release":        {"Libération :  ☐ libérée   ☐ refusée      Pharmacien : ____________________   Date, heure : ______________   Signature :", "Release:  ☐ released   ☐ rejected      Pharmacist: ____________________   Date, time: ______________   Signature:"},
	"ws.made_in":        {"Préparé par (nom) : ____________________   Date, heure : ______________   Isolateur / poste : __________", "Prepared by (name): ____________________   Date, time: ______________   Isolator / station: __________"},
	"ws.cytotoxic":      {"Cytotoxique – manipuler avec précaution", "Cytotoxic – handle with care"},

	// label
	"lb.volume":     {"Volume total %s", "Total volume %s"},
	"lb.in":         {"dans %s", "in %s"},
	"lb.route":      {"Voie %s", "Route %s"},
	"lb.admin":      {"Administration le %s", "To be given on %s"},
	"lb.prepared":   {"Préparé le %s", "Prepared %s"},
	"lb.expiry":     {"À utiliser avant le %s", "Use before %s"},
	"lb.born":       {"né(e) le %s", "born %s"},
	"lb.ipp":        {"IPP %s", "IPP %s"},
	"lb.register":   {"N° ordonnancier %s", "Register no. %s"},
	"lb.aid":        {"Préparé par %s pour %s (entraide)", "Prepared by %s for %s (mutual aid)"},
	"cat.magistral": {"Préparation magistrale", "Magistral preparation"},
	"cat.hospital":  {"Préparation hospitalière", "Hospital preparation"},

	// delivery slip
	"sl.title":       {"BORDEREAU DE LIVRAISON", "DELIVERY SLIP"},
	"sl.number":      {"Bordereau n°", "Slip no."},
	"sl.ward":        {"Service", "Ward"},
	"sl.round":       {"Tournée", "Round"},
	"sl.morning":     {"matin", "morning"},
	"sl.afternoon":   {"après-midi", "afternoon"},
	"sl.evening":     {"soir", "evening"},
	"sl.preparation": {"Préparations", "Preparations"},
	"sl.patient":     {"Patient (nom, prénom, né(e) le, IPP)", "Patient (name, first name, birth date, IPP)"},
	"sl.drug":        {"DCI", "INN"},
	"sl.dose":        {"Dose", "Dose"},
	"sl.volume":      {"Volume", "Volume"},
	"sl.route":       {"Voie", "Route"},
	"sl.received":    {"Reçu", "Received"},
	"sl.totals":      {"Total : %d préparation(s) pour %d patient(s)", "Total: %d preparation(s) for %d patient(s)"},
	"sl.handover":    {"Remise au service le %s", "Handed over on %s"},
	"sl.handover_at": {"Remise au service le : ____ / ____ / ________  à  ____ h ____", "Handed over on: ____ / ____ / ________  at  ____ : ____"},
	"sl.sender":      {"Pharmacie (expéditeur)", "Pharmacy (sender)"},
	"sl.receiver":    {"Service (destinataire)", "Ward (receiver)"},
	"sl.sign_lines":  {"Nom :\n\nDate, heure :\n\nSignature :", "Name:\n\nDate, time:\n\nSignature:"},

	// administration plan
	"pl.title":      {"PLAN D'ADMINISTRATION", "ADMINISTRATION PLAN"},
	"pl.day":        {"Jour d'administration", "Administration day"},
	"pl.ward":       {"Service", "Ward"},
	"pl.seq":        {"Ordre", "Seq."},
	"pl.time":       {"Heure prévue", "Planned time"},
	"pl.type":       {"Type", "Type"},
	"pl.product":    {"Médicament", "Drug"},
	"pl.dose":       {"Dose", "Dose"},
	"pl.vehicle":    {"Solvant, volume", "Vehicle, volume"},
	"pl.route":      {"Voie", "Route"},
	"pl.rate":       {"Débit", "Rate"},
	"pl.duration":   {"Durée", "Duration"},
	"pl.start":      {"Début", "Start"},
	"pl.end":        {"Fin", "End"},
	"pl.box_at":     {"☐ à ___h___", "☐ at ___:___"},
	"pl.nurse":      {"IDE (visa)", "Nurse (initials)"},
	"pl.premed":     {"Prémédication", "Premedication"},
	"pl.hydration":  {"Hydratation", "Hydration"},
	"pl.chemo":      {"Chimiothérapie", "Chemotherapy"},
	"pl.support":    {"Soins de support", "Supportive care"},
	"pl.notes":      {"Consignes", "Instructions"},
	"pl.note":       {"Consignes : %s", "Instructions: %s"},
	"pl.ward_stock": {"dotation du service", "ward stock"},

	// register
	"rg.title":     {"ORDONNANCIER DES PRÉPARATIONS", "PREPARATION REGISTER"},
	"rg.range":     {"du %s au %s", "from %s to %s"},
	"rg.count":     {"%d entrée(s), dont %d libérée(s), %d refusée(s), %d annulée(s), %d en cours", "%d entries: %d released, %d rejected, %d cancelled, %d in progress"},
	"rg.number":    {"N°", "No."},
	"rg.date":      {"Date", "Date"},
	"rg.patient":   {"Patient (nom, prénom, né(e) le, IPP)", "Patient (name, first name, birth date, IPP)"},
	"rg.drug":      {"DCI", "INN"},
	"rg.dose":      {"Dose", "Dose"},
	"rg.status":    {"Statut", "Status"},
	"rg.released":  {"libérée", "released"},
	"rg.rejected":  {"refusée", "rejected"},
	"rg.cancelled": {"ANNULÉE", "CANCELLED"},
	"rg.pending":   {"en cours", "in progress"},
	"rg.annot":     {"Annotation du %s par %s : %s", "Note of %s by %s: %s"},
	"rg.empty":     {"Aucune entrée sur cette période.", "No entry in this period."},
}

// wordsCP holds words encoded to Windows-1252, [lang][key].
var wordsCP = func() [2]map[string]string {
	var out [2]map[string]string
	for l := range out {
		out[l] = make(map[string]string, len(words))
		for k, v := range words {
			// "☐" is not a glyph of the fonts: it becomes boxMark, which the
			// drawing code renders as a square.
			parts := strings.Split(v[l], "☐")
			for i, p := range parts {
				s, err := encode(p, true)
				if err != nil {
					panic(fmt.Sprintf("pdfdoc: word %q cannot be encoded: %v", k, err))
				}
				parts[i] = s
			}
			out[l][k] = strings.Join(parts, boxStr)
		}
	}
	return out
}()

const (
	langFR = 0
	langEN = 1
)

func langIndex(s string) int {
	if s == "en" {
		return langEN
	}
	return langFR
}

// formatDateTime and formatDate are the only time formats on documents:
// day/month/year in French, ISO order in English (unambiguous), 24-hour
// clock, in the Stamp's zone.
func formatDateTime(t time.Time, lang int, zone *time.Location) string {
	if lang == langEN {
		return t.In(zone).Format("2006-01-02 15:04")
	}
	return t.In(zone).Format("02/01/2006 15:04")
}

func formatDate(d time.Time, lang int) string {
	if lang == langEN {
		return d.Format("2006-01-02")
	}
	return d.Format("02/01/2006")
}
