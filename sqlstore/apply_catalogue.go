package sqlstore

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/relais-onco/relais"
)

// Appliers of the catalogue and the protocol library.

func init() {
	registerApplier("drug", applyDrug)
	registerApplier("product", applyProduct)
	registerApplier("diluent", applyDiluent)
	registerApplier("protocol", applyProtocol)
	registerApplier("protocol_version", applyProtocolVersion)
}

func applyDrug(tx *Tx, id relais.ID, after []byte) error {
	var d relais.Drug
	if err := decodeImage("drug", id, after, &d); err != nil {
		return err
	}
	if err := checkImageID("drug", id, d.ID); err != nil {
		return err
	}
	return upsert(tx, "drug", []string{"id", "site", "inn", "class", "cytotoxic", "comment", "revision", "created_at", "updated_at"},
		[]any{d.ID, d.Site, d.INN, d.Class, d.Cytotoxic, d.Comment, d.Revision, T(d.CreatedAt), T(d.UpdatedAt)})
}

func applyProduct(tx *Tx, id relais.ID, after []byte) error {
	var p relais.Product
	if err := decodeImage("product", id, after, &p); err != nil {
		return err
	}
	if err := checkImageID("product", id, p.ID); err != nil {
		return err
	}
	return upsert(tx, "product", []string{"id", "site", "drug_id", "brand", "ucd", "ucd_demo", "form", "strength", "strength_unit",
		"volume_ml", "concentration", "reconstitution", "liste_en_sus", "density_g_ml", "stability", "comment", "revision",
		"created_at", "updated_at"},
		[]any{p.ID, p.Site, p.DrugID, p.Brand, p.UCD, p.UCDDemo, p.Form, p.Strength, p.StrengthUnit, p.VolumeML,
			p.Concentration, p.Reconstitution, p.ListeEnSus, p.DensityGML, marshalList(p.Stability), p.Comment, p.Revision,
			T(p.CreatedAt), T(p.UpdatedAt)})
}

func applyDiluent(tx *Tx, id relais.ID, after []byte) error {
	var d relais.Diluent
	if err := decodeImage("diluent", id, after, &d); err != nil {
		return err
	}
	if err := checkImageID("diluent", id, d.ID); err != nil {
		return err
	}
	return upsert(tx, "diluent", []string{"id", "site", "name", "volumes_ml", "comment", "revision", "created_at", "updated_at"},
		[]any{d.ID, d.Site, d.Name, marshalList(d.VolumesML), d.Comment, d.Revision, T(d.CreatedAt), T(d.UpdatedAt)})
}

func applyProtocol(tx *Tx, id relais.ID, after []byte) error {
	var p relais.Protocol
	if err := decodeImage("protocol", id, after, &p); err != nil {
		return err
	}
	if err := checkImageID("protocol", id, p.ID); err != nil {
		return err
	}
	return upsert(tx, "protocol", []string{"id", "site", "code", "name", "indication", "population", "created_at", "updated_at"},
		[]any{p.ID, p.Site, p.Code, p.Name, p.Indication, p.Population, T(p.CreatedAt), T(p.UpdatedAt)})
}

// applyProtocolVersion writes the content as Relais writes it (jsonCols)
// and refuses an image whose content does not hash to its recorded hash:
// what a standby or another site prescribes from must be exactly what was
// approved.
func applyProtocolVersion(tx *Tx, id relais.ID, after []byte) error {
	var v relais.ProtocolVersion
	if err := decodeImage("protocol_version", id, after, &v); err != nil {
		return err
	}
	if err := checkImageID("protocol_version", id, v.ID); err != nil {
		return err
	}
	var j jsonCols
	content := j.enc(v.Content)
	author, approver, origin, events := j.enc(v.Author), opt(&j, v.Approver), opt(&j, v.Origin), j.enc(v.Events)
	if j.err != nil {
		return j.err
	}
	if sum := sha256.Sum256([]byte(content)); hex.EncodeToString(sum[:]) != v.ContentHash {
		return relais.E(relais.KindIntegrity, "protocol version "+string(id)+
			": its content does not hash to its recorded hash once written: it is not applied")
	}
	return upsert(tx, "protocol_version", []string{"id", "protocol_id", "number", "status", "content", "content_hash", "revision",
		"copied_from", "origin", "author", "approver", "events", "site", "created_at", "updated_at"},
		[]any{v.ID, v.ProtocolID, v.Number, v.Status, content, v.ContentHash, v.Revision, v.CopiedFrom, origin,
			author, approver, events, v.Site, T(v.CreatedAt), T(v.UpdatedAt)})
}
