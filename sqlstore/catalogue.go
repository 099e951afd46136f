package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/relais-onco/relais"
)

// The catalogue: drugs, products (with their stability entries) and
// diluents. Each is journaled as one entity whose after-image is the row as
// read back.

var _ relais.CatalogueService = (*DB)(nil)

func init() {
	registerEntity("drug", "drug", func(tx *Tx, id relais.ID) (any, error) { return drugByID(tx, id) })
	registerEntity("product", "product", func(tx *Tx, id relais.ID) (any, error) { return productByID(tx, id) })
	registerEntity("diluent", "diluent", func(tx *Tx, id relais.ID) (any, error) { return diluentByID(tx, id) })
}

// requirePerm refuses an actor whose role lacks p. The web layer checks
// routes already; the store checks again so that no other caller (CLI,
// demo, a future page) can skip it.
func requirePerm(op string, a relais.Actor, p relais.Permission) error {
	if !a.Role.Can(p) {
		return relais.E(op, relais.KindForbidden, fmt.Sprintf("your role (%s) does not allow this (%s)", a.Role, p))
	}
	return nil
}

// staleError answers an update based on an old revision.
func staleError(op, what string, sent, current int) error {
	return relais.E(op, relais.KindConflict, relais.Field("revision"), fmt.Sprintf(
		"this %s was changed since you read it (you sent revision %d, it is now at %d): reload it and make your change again",
		what, sent, current))
}

// Drugs.

const drugCols = "id, site, inn, class, cytotoxic, comment, revision, created_at, updated_at"

func scanDrug(row interface{ Scan(...any) error }) (relais.Drug, error) {
	var d relais.Drug
	err := row.Scan(&d.ID, &d.Site, &d.INN, &d.Class, &d.Cytotoxic, &d.Comment, &d.Revision,
		ScanTime(&d.CreatedAt), ScanTime(&d.UpdatedAt))
	return d, err
}

func drugByID(tx *Tx, id relais.ID) (relais.Drug, error) {
	d, err := scanDrug(tx.QueryRow("SELECT "+drugCols+" FROM drug WHERE id = ?", id))
	if err != nil {
		return d, relais.E("drug.get", "no such drug", mapErr(err))
	}
	return d, nil
}

func drugByINN(tx *Tx, inn string) (relais.Drug, error) {
	d, err := scanDrug(tx.QueryRow("SELECT "+drugCols+" FROM drug WHERE inn = ?", relais.NormalizeINN(inn)))
	if err != nil {
		return d, relais.E("drug.get", fmt.Sprintf("no drug %q in the catalogue", inn), mapErr(err))
	}
	return d, nil
}

// CreateDrug adds a drug to the catalogue.
func (db *DB) CreateDrug(ctx context.Context, d relais.Drug) (relais.Drug, error) {
	const op = "drug.create"
	d.INN = relais.NormalizeINN(d.INN)
	if err := d.Validate(op); err != nil {
		return relais.Drug{}, err
	}
	var out relais.Drug
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermCatalogueWrite); err != nil {
			return err
		}
		id := relais.NewID()
		_, err := tx.Exec("INSERT INTO drug ("+drugCols+") VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
			id, tx.Site(), d.INN, d.Class, d.Cytotoxic, d.Comment, T(tx.Now()), T(tx.Now()))
		if relais.ErrorKind(err) == relais.KindConflict {
			return relais.E(op, relais.KindConflict, relais.Field("inn"), fmt.Sprintf("%s is already in the catalogue", d.INN))
		}
		if err != nil {
			return relais.E(op, err)
		}
		if out, err = drugByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "drug", id, nil, out)
	})
	return out, err
}

// UpdateDrug changes a drug's class, cytotoxic flag and comment. The INN
// cannot change: frozen protocol versions name the drug by it.
func (db *DB) UpdateDrug(ctx context.Context, d relais.Drug) (relais.Drug, error) {
	const op = "drug.update"
	d.INN = relais.NormalizeINN(d.INN)
	if err := d.Validate(op); err != nil {
		return relais.Drug{}, err
	}
	var out relais.Drug
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermCatalogueWrite); err != nil {
			return err
		}
		before, err := drugByID(tx, d.ID)
		if err != nil {
			return relais.E(op, err)
		}
		if d.INN != before.INN {
			return relais.E(op, relais.KindInvalid, relais.Field("inn"), fmt.Sprintf(
				"the INN of a drug cannot change (%s): protocols name it by its INN; add a new drug instead", before.INN))
		}
		if d.Revision != before.Revision {
			return staleError(op, "drug", d.Revision, before.Revision)
		}
		if _, err := tx.Exec("UPDATE drug SET class = ?, cytotoxic = ?, comment = ?, revision = revision + 1, updated_at = ? WHERE id = ? AND revision = ?",
			d.Class, d.Cytotoxic, d.Comment, T(tx.Now()), d.ID, d.Revision); err != nil {
			return relais.E(op, err)
		}
		if out, err = drugByID(tx, d.ID); err != nil {
			return err
		}
		return tx.Journal(op, "drug", d.ID, before, out)
	})
	return out, err
}

// Drug returns one drug.
func (db *DB) Drug(ctx context.Context, id relais.ID) (relais.Drug, error) {
	var d relais.Drug
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		d, err = drugByID(tx, id)
		return err
	})
	return d, err
}

// DrugByINN returns the drug with this INN (compared trimmed, in lower case).
func (db *DB) DrugByINN(ctx context.Context, inn string) (relais.Drug, error) {
	var d relais.Drug
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		d, err = drugByINN(tx, inn)
		return err
	})
	return d, err
}

// Drugs lists the catalogue's drugs by INN.
func (db *DB) Drugs(ctx context.Context) ([]relais.Drug, error) {
	var out []relais.Drug
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query("SELECT " + drugCols + " FROM drug ORDER BY inn")
		if err != nil {
			return relais.E("drug.list", err)
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDrug(rows)
			if err != nil {
				return relais.E("drug.list", err)
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, err
}

// Products.

const productCols = `id, site, drug_id, brand, ucd, ucd_demo, form, strength, strength_unit, volume_ml, concentration,
	reconstitution, liste_en_sus, density_g_ml, stability, comment, revision, created_at, updated_at`

func scanProduct(row interface{ Scan(...any) error }) (relais.Product, error) {
	var p relais.Product
	var stab string
	err := row.Scan(&p.ID, &p.Site, &p.DrugID, &p.Brand, &p.UCD, &p.UCDDemo, &p.Form, &p.Strength, &p.StrengthUnit,
		&p.VolumeML, &p.Concentration, &p.Reconstitution, &p.ListeEnSus, &p.DensityGML, &stab, &p.Comment,
		&p.Revision, ScanTime(&p.CreatedAt), ScanTime(&p.UpdatedAt))
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal([]byte(stab), &p.Stability); err != nil {
		return p, relais.E(relais.KindIntegrity, fmt.Sprintf("the stability data of product %s cannot be read", p.ID), err)
	}
	return p, nil
}

func productByID(tx *Tx, id relais.ID) (relais.Product, error) {
	p, err := scanProduct(tx.QueryRow("SELECT "+productCols+" FROM product WHERE id = ?", id))
	if err != nil {
		return p, relais.E("product.get", "no such product", mapErr(err))
	}
	return p, nil
}

func marshalList[T any](list []T) string {
	if list == nil {
		list = []T{}
	}
	b, err := json.Marshal(list)
	if err != nil {
		panic(fmt.Sprintf("sqlstore: %v", err)) // plain data: cannot fail
	}
	return string(b)
}

// checkProductDrug checks that the product's drug exists (a clear field
// error rather than a foreign-key failure).
func checkProductDrug(op string, tx *Tx, p relais.Product) error {
	if _, err := drugByID(tx, p.DrugID); err != nil {
		if relais.ErrorKind(err) == relais.KindNotFound {
			return relais.Invalid(op, "drug_id", "no drug with id %s in the catalogue", p.DrugID)
		}
		return err
	}
	return nil
}

// CreateProduct adds a product (with its stability entries, if any).
func (db *DB) CreateProduct(ctx context.Context, p relais.Product) (relais.Product, error) {
	const op = "product.create"
	if err := p.Validate(op); err != nil {
		return relais.Product{}, err
	}
	var out relais.Product
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermCatalogueWrite); err != nil {
			return err
		}
		if err := checkProductDrug(op, tx, p); err != nil {
			return err
		}
		stab := make([]relais.Stability, len(p.Stability))
		for i, s := range p.Stability {
			s.ID = relais.NewID()
			stab[i] = s
		}
		id := relais.NewID()
		_, err := tx.Exec("INSERT INTO product ("+productCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
			id, tx.Site(), p.DrugID, p.Brand, p.UCD, p.UCDDemo, p.Form, p.Strength, p.StrengthUnit, p.VolumeML,
			p.Concentration, p.Reconstitution, p.ListeEnSus, p.DensityGML, marshalList(stab), p.Comment, T(tx.Now()), T(tx.Now()))
		if relais.ErrorKind(err) == relais.KindConflict {
			return relais.E(op, relais.KindConflict, relais.Field("ucd"), fmt.Sprintf("UCD %s is already in the catalogue", p.UCD))
		}
		if err != nil {
			return relais.E(op, err)
		}
		if out, err = productByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "product", id, nil, out)
	})
	return out, err
}

// UpdateProduct changes a product. Stability entries are added with
// AddStability and corrected with UpdateStability; p.Stability must be left
// empty or sent back as read, so that an update never drops one silently.
func (db *DB) UpdateProduct(ctx context.Context, p relais.Product) (relais.Product, error) {
	const op = "product.update"
	if err := p.Validate(op); err != nil {
		return relais.Product{}, err
	}
	var out relais.Product
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermCatalogueWrite); err != nil {
			return err
		}
		before, err := productByID(tx, p.ID)
		if err != nil {
			return relais.E(op, err)
		}
		if p.Revision != before.Revision {
			return staleError(op, "product", p.Revision, before.Revision)
		}
		if p.Stability != nil && !reflect.DeepEqual(p.Stability, before.Stability) {
			return relais.Invalid(op, "stability",
				"stability entries are added and corrected one by one (POST or PUT /products/{id}/stability): send them back as read, or leave them out")
		}
		if err := checkProductDrug(op, tx, p); err != nil {
			return err
		}
		_, err = tx.Exec(`UPDATE product SET drug_id = ?, brand = ?, ucd = ?, ucd_demo = ?, form = ?, strength = ?, strength_unit = ?,
			volume_ml = ?, concentration = ?, reconstitution = ?, liste_en_sus = ?, density_g_ml = ?, comment = ?,
			revision = revision + 1, updated_at = ? WHERE id = ? AND revision = ?`,
			p.DrugID, p.Brand, p.UCD, p.UCDDemo, p.Form, p.Strength, p.StrengthUnit, p.VolumeML, p.Concentration,
			p.Reconstitution, p.ListeEnSus, p.DensityGML, p.Comment, T(tx.Now()), p.ID, p.Revision)
		if relais.ErrorKind(err) == relais.KindConflict {
			return relais.E(op, relais.KindConflict, relais.Field("ucd"), fmt.Sprintf("UCD %s is already in the catalogue", p.UCD))
		}
		if err != nil {
			return relais.E(op, err)
		}
		if out, err = productByID(tx, p.ID); err != nil {
			return err
		}
		return tx.Journal(op, "product", p.ID, before, out)
	})
	return out, err
}

// AddStability adds a stability entry to a product.
func (db *DB) AddStability(ctx context.Context, productID relais.ID, s relais.Stability) (relais.Product, error) {
	const op = "product.stability.add"
	s.ID = ""
	if err := s.Validate(op); err != nil {
		return relais.Product{}, err
	}
	return db.changeStability(ctx, op, productID, func(list []relais.Stability) ([]relais.Stability, error) {
		s.ID = relais.NewID()
		return append(list, s), nil
	})
}

// UpdateStability corrects one stability entry of a product (the journal
// keeps what it said before).
func (db *DB) UpdateStability(ctx context.Context, productID relais.ID, s relais.Stability) (relais.Product, error) {
	const op = "product.stability.update"
	if err := s.Validate(op); err != nil {
		return relais.Product{}, err
	}
	return db.changeStability(ctx, op, productID, func(list []relais.Stability) ([]relais.Stability, error) {
		for i := range list {
			if list[i].ID == s.ID {
				list[i] = s
				return list, nil
			}
		}
		return nil, relais.E(op, relais.KindNotFound, relais.Field("id"), "this product has no stability entry "+string(s.ID))
	})
}

func (db *DB) changeStability(ctx context.Context, op string, productID relais.ID, change func([]relais.Stability) ([]relais.Stability, error)) (relais.Product, error) {
	var out relais.Product
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermCatalogueWrite); err != nil {
			return err
		}
		before, err := productByID(tx, productID)
		if err != nil {
			return relais.E(op, err)
		}
		list := append([]relais.Stability(nil), before.Stability...)
		list, err = change(list)
		if err != nil {
			return err
		}
		if _, err := tx.Exec("UPDATE product SET stability = ?, revision = revision + 1, updated_at = ? WHERE id = ?",
			marshalList(list), T(tx.Now()), productID); err != nil {
			return relais.E(op, err)
		}
		if out, err = productByID(tx, productID); err != nil {
			return err
		}
		return tx.Journal(op, "product", productID, before, out)
	})
	return out, err
}

// Product returns one product.
func (db *DB) Product(ctx context.Context, id relais.ID) (relais.Product, error) {
	var p relais.Product
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		p, err = productByID(tx, id)
		return err
	})
	return p, err
}

// Products lists the products of a drug (all when drugID is empty), by
// brand and strength.
func (db *DB) Products(ctx context.Context, drugID relais.ID) ([]relais.Product, error) {
	q := "SELECT " + productCols + " FROM product"
	var args []any
	if drugID != "" {
		q += " WHERE drug_id = ?"
		args = append(args, drugID)
	}
	q += " ORDER BY brand, strength, id"
	var out []relais.Product
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(q, args...)
		if err != nil {
			return relais.E("product.list", err)
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanProduct(rows)
			if err != nil {
				return relais.E("product.list", err)
			}
			out = append(out, p)
		}
		return rows.Err()
	})
	return out, err
}

// Diluents.

const diluentCols = "id, site, name, volumes_ml, comment, revision, created_at, updated_at"

func scanDiluent(row interface{ Scan(...any) error }) (relais.Diluent, error) {
	var d relais.Diluent
	var vols string
	err := row.Scan(&d.ID, &d.Site, &d.Name, &vols, &d.Comment, &d.Revision, ScanTime(&d.CreatedAt), ScanTime(&d.UpdatedAt))
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal([]byte(vols), &d.VolumesML); err != nil {
		return d, relais.E(relais.KindIntegrity, fmt.Sprintf("the volumes of diluent %s cannot be read", d.ID), err)
	}
	return d, nil
}

func diluentByID(tx *Tx, id relais.ID) (relais.Diluent, error) {
	d, err := scanDiluent(tx.QueryRow("SELECT "+diluentCols+" FROM diluent WHERE id = ?", id))
	if err != nil {
		return d, relais.E("diluent.get", "no such diluent", mapErr(err))
	}
	return d, nil
}

func diluentByName(tx *Tx, name string) (relais.Diluent, error) {
	d, err := scanDiluent(tx.QueryRow("SELECT "+diluentCols+" FROM diluent WHERE name = ?", strings.TrimSpace(name)))
	if err != nil {
		return d, relais.E("diluent.get", fmt.Sprintf("no diluent %q in the catalogue", name), mapErr(err))
	}
	return d, nil
}

// CreateDiluent adds a diluent.
func (db *DB) CreateDiluent(ctx context.Context, d relais.Diluent) (relais.Diluent, error) {
	const op = "diluent.create"
	d.Name = strings.TrimSpace(d.Name)
	if err := d.Validate(op); err != nil {
		return relais.Diluent{}, err
	}
	var out relais.Diluent
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermCatalogueWrite); err != nil {
			return err
		}
		id := relais.NewID()
		_, err := tx.Exec("INSERT INTO diluent ("+diluentCols+") VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
			id, tx.Site(), d.Name, marshalList(d.VolumesML), d.Comment, T(tx.Now()), T(tx.Now()))
		if relais.ErrorKind(err) == relais.KindConflict {
			return relais.E(op, relais.KindConflict, relais.Field("name"), fmt.Sprintf("%s is already in the catalogue", d.Name))
		}
		if err != nil {
			return relais.E(op, err)
		}
		if out, err = diluentByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "diluent", id, nil, out)
	})
	return out, err
}

// UpdateDiluent changes a diluent's bag volumes and comment. Its name
// cannot change: protocol lines name their vehicle by it.
func (db *DB) UpdateDiluent(ctx context.Context, d relais.Diluent) (relais.Diluent, error) {
	const op = "diluent.update"
	d.Name = strings.TrimSpace(d.Name)
	if err := d.Validate(op); err != nil {
		return relais.Diluent{}, err
	}
	var out relais.Diluent
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermCatalogueWrite); err != nil {
			return err
		}
		before, err := diluentByID(tx, d.ID)
		if err != nil {
			return relais.E(op, err)
		}
		if d.Name != before.Name {
			return relais.E(op, relais.KindInvalid, relais.Field("name"), fmt.Sprintf(
				"the name of a diluent cannot change (%s): protocol lines name their vehicle by it; add a new diluent instead", before.Name))
		}
		if d.Revision != before.Revision {
			return staleError(op, "diluent", d.Revision, before.Revision)
		}
		if _, err := tx.Exec("UPDATE diluent SET volumes_ml = ?, comment = ?, revision = revision + 1, updated_at = ? WHERE id = ? AND revision = ?",
			marshalList(d.VolumesML), d.Comment, T(tx.Now()), d.ID, d.Revision); err != nil {
			return relais.E(op, err)
		}
		if out, err = diluentByID(tx, d.ID); err != nil {
			return err
		}
		return tx.Journal(op, "diluent", d.ID, before, out)
	})
	return out, err
}

// Diluent returns one diluent.
func (db *DB) Diluent(ctx context.Context, id relais.ID) (relais.Diluent, error) {
	var d relais.Diluent
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		d, err = diluentByID(tx, id)
		return err
	})
	return d, err
}

// Diluents lists the diluents by name.
func (db *DB) Diluents(ctx context.Context) ([]relais.Diluent, error) {
	var out []relais.Diluent
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query("SELECT " + diluentCols + " FROM diluent ORDER BY name")
		if err != nil {
			return relais.E("diluent.list", err)
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDiluent(rows)
			if err != nil {
				return relais.E("diluent.list", err)
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, err
}
