package demo

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"

	"github.com/relais-onco/relais"
)

// The demo protocol library: real regimens written from cited public
// sources, one protocol document per file (the import format of
// docs/protocols.md), and the catalogue they need. Each document is imported
// and brought to active through the normal lifecycle — written and submitted
// by a pharmacist, approved by another person — so the demo exercises the
// same four-eyes rule as real work.

//go:embed library/*.json
var libraryFS embed.FS

// LibraryAuthor and LibraryApprover are the demo accounts (see Users) that
// write and approve the demo protocols: two different people, as the
// four-eyes rule requires. The catalogue is entered by the approver, the
// pharmacy administrator.
const (
	LibraryAuthor   = "ph.durand"
	LibraryApprover = "admin.pharma"
)

// LibraryStore is what LoadLibrary needs.
type LibraryStore interface {
	Users(ctx context.Context) ([]relais.User, error)
	CreateDrug(ctx context.Context, d relais.Drug) (relais.Drug, error)
	CreateProduct(ctx context.Context, p relais.Product) (relais.Product, error)
	CreateDiluent(ctx context.Context, d relais.Diluent) (relais.Diluent, error)
	ImportProtocol(ctx context.Context, doc relais.ProtocolDocument) (relais.ImportResult, error)
	TransitionVersion(ctx context.Context, versionID relais.ID, req relais.VersionTransition) (relais.ProtocolVersion, error)
}

// Catalogue is the demo catalogue file (library/catalogue.json).
type Catalogue struct {
	Comment  string             `json:"comment"`
	Diluents []relais.Diluent   `json:"diluents"`
	Drugs    []relais.Drug      `json:"drugs"`
	Products []CatalogueProduct `json:"products"`
}

// CatalogueProduct is a product of the demo catalogue: it names its drug by
// INN, since ids are made when the catalogue is loaded.
type CatalogueProduct struct {
	INN string `json:"inn"`
	relais.Product
}

// LibraryCatalogue reads the demo catalogue.
func LibraryCatalogue() (Catalogue, error) {
	var c Catalogue
	b, err := libraryFS.ReadFile("library/catalogue.json")
	if err != nil {
		return c, err
	}
	if err := relais.DecodeStrict("demo.catalogue", b, &c); err != nil {
		return c, fmt.Errorf("library/catalogue.json: %w", err)
	}
	return c, nil
}

// LibraryDocuments reads the demo protocol documents, by file name.
func LibraryDocuments() (map[string]relais.ProtocolDocument, error) {
	names, err := fs.Glob(libraryFS, "library/*.json")
	if err != nil {
		return nil, err
	}
	out := map[string]relais.ProtocolDocument{}
	for _, name := range names {
		if path.Base(name) == "catalogue.json" {
			continue
		}
		b, err := libraryFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		doc, err := relais.ParseDocument(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[path.Base(name)] = doc
	}
	return out, nil
}

// LoadLibrary creates the demo catalogue and protocol library, each
// protocol's version 1 active. The accounts LibraryAuthor and
// LibraryApprover must exist.
func LoadLibrary(ctx context.Context, s LibraryStore) error {
	users, err := s.Users(ctx)
	if err != nil {
		return err
	}
	as := map[string]context.Context{}
	for _, u := range users {
		as[u.Username] = relais.WithActor(ctx, u.Actor())
	}
	author, approver := as[LibraryAuthor], as[LibraryApprover]
	if author == nil || approver == nil {
		return fmt.Errorf("demo library: the accounts %s and %s must exist first", LibraryAuthor, LibraryApprover)
	}

	cat, err := LibraryCatalogue()
	if err != nil {
		return err
	}
	for _, d := range cat.Diluents {
		if _, err := s.CreateDiluent(approver, d); err != nil {
			return fmt.Errorf("demo diluent %s: %w", d.Name, err)
		}
	}
	drugs := map[string]relais.ID{}
	for _, d := range cat.Drugs {
		got, err := s.CreateDrug(approver, d)
		if err != nil {
			return fmt.Errorf("demo drug %s: %w", d.INN, err)
		}
		drugs[got.INN] = got.ID
	}
	for _, p := range cat.Products {
		id, ok := drugs[relais.NormalizeINN(p.INN)]
		if !ok {
			return fmt.Errorf("demo product %s: no drug %s in the demo catalogue", p.Brand, p.INN)
		}
		p.Product.DrugID = id
		if _, err := s.CreateProduct(approver, p.Product); err != nil {
			return fmt.Errorf("demo product %s: %w", p.Brand, err)
		}
	}

	docs, err := LibraryDocuments()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(docs))
	for name := range docs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		res, err := s.ImportProtocol(author, docs[name])
		if err != nil {
			return fmt.Errorf("demo protocol %s: %w", name, err)
		}
		steps := []struct {
			ctx     context.Context
			to      relais.VersionStatus
			comment string
		}{
			{author, relais.VersionInTest, "Protocole de démonstration saisi depuis la source citée."},
			{approver, relais.VersionActive, "Relu contre la source citée (démonstration)."},
		}
		for _, st := range steps {
			if _, err := s.TransitionVersion(st.ctx, res.Version.ID, relais.VersionTransition{To: st.to, Comment: st.comment}); err != nil {
				return fmt.Errorf("demo protocol %s → %s: %w", name, st.to, err)
			}
		}
	}
	return nil
}
