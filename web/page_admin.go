package web

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/relais-onco/relais"
)

// The administrators' pages. The pharmacy administrator (and pharmacists)
// keep the catalogue — drugs, products with their stability data and its
// source, diluents — and the site's hoods; the IT administrator keeps the
// accounts: creates them, changes roles, disables, unlocks and issues
// password-reset links. Every form is refused beside its fields, in the
// user's language, and leaves nothing half-written (the services validate
// before they write).

func (s *Server) adminPages() {
	s.handlePage("GET /catalogue", relais.PermCatalogueRead, s.cataloguePage)
	s.handlePage("POST /catalogue/drugs", relais.PermCatalogueWrite, s.saveDrug)
	s.handlePage("POST /catalogue/drugs/{id}", relais.PermCatalogueWrite, s.saveDrug)
	s.handlePage("GET /catalogue/products/new", relais.PermCatalogueWrite, s.productPage)
	s.handlePage("POST /catalogue/products", relais.PermCatalogueWrite, s.saveProduct)
	s.handlePage("GET /catalogue/products/{id}", relais.PermCatalogueRead, s.productPage)
	s.handlePage("POST /catalogue/products/{id}", relais.PermCatalogueWrite, s.saveProduct)
	s.handlePage("POST /catalogue/products/{id}/stability", relais.PermCatalogueWrite, s.addStability)
	s.handlePage("POST /catalogue/diluents", relais.PermCatalogueWrite, s.saveDiluent)
	s.handlePage("POST /catalogue/diluents/{id}", relais.PermCatalogueWrite, s.saveDiluent)
	if s.Hoods != nil {
		s.handlePage("POST /catalogue/hoods", relais.PermCatalogueWrite, s.saveHood)
		s.handlePage("POST /catalogue/hoods/{id}", relais.PermCatalogueWrite, s.saveHood)
	}
	s.handlePage("GET /users", relais.PermUserAdmin, s.usersPage)
	s.handlePage("POST /users", relais.PermUserAdmin, s.createUser)
	s.handlePage("POST /users/{id}/role", relais.PermUserAdmin, s.userAction("role"))
	s.handlePage("POST /users/{id}/disable", relais.PermUserAdmin, s.userAction("disable"))
	s.handlePage("POST /users/{id}/enable", relais.PermUserAdmin, s.userAction("enable"))
	s.handlePage("POST /users/{id}/unlock", relais.PermUserAdmin, s.userAction("unlock"))
	s.handlePage("POST /users/{id}/reset", relais.PermUserAdmin, s.userAction("reset"))
}

// refuseForm records a refused form like refuse, then labels its fields
// with the administration forms' own labels (adm.f.<field>) and, outside
// English, says each field's error in the user's language when the domain
// message has no translation (adm.err.<field>).
func (p *page) refuseForm(id string, values url.Values, err error) {
	p.refuseIn("adm.", id, values, err)
}

// refuseIn is refuseForm with the catalog's prefix of the form's labels
// (<prefix>f.<field>) and messages (<prefix>err.<field>).
func (p *page) refuseIn(prefix, id string, values url.Values, err error) {
	p.refuse(id, values, err)
	f := p.Form
	for _, fe := range relais.FieldErrors(err) {
		name := fe.Field
		if i := strings.LastIndex(name, "."); i >= 0 {
			name = name[i+1:]
		}
		if i := strings.Index(name, "["); i >= 0 {
			name = name[:i]
		}
		if p.Lang != "en" && !hasText("msg."+relais.ErrorMessage(fe)) && hasText(prefix+"err."+name) {
			f.Fields[fe.Field] = p.T(prefix + "err." + name)
			for i := range f.Errors {
				if f.Errors[i].Field == fe.Field {
					f.Errors[i].Message = f.Fields[fe.Field]
				}
			}
		}
	}
	for i, e := range f.Errors {
		name := e.Field
		if j := strings.LastIndex(name, "."); j >= 0 {
			name = name[j+1:]
		}
		if hasText(prefix + "f." + name) {
			f.Errors[i].Label = p.T(prefix + "f." + name)
		}
	}
}

// optNumber reads an optional number: empty is 0.
func optNumber(op, field, s string) (float64, error) {
	if strings.TrimSpace(s) == "" {
		return 0, nil
	}
	return parseNumber(op, field, s)
}

// withValidation joins the form's own errors (numbers that are not
// numbers) with the domain's checks of what could be read, so that the
// user sees every mistake at once; a field already refused is not refused
// twice.
func withValidation(op string, errs []error, validate error) error {
	seen := map[string]bool{}
	for _, e := range errs {
		for _, fe := range relais.FieldErrors(e) {
			seen[fe.Field] = true
		}
	}
	for _, fe := range relais.FieldErrors(validate) {
		if !seen[fe.Field] {
			errs = append(errs, fe)
		}
	}
	return relais.Errors(op, errs)
}

func revisionOf(f url.Values) int {
	n, _ := strconv.Atoi(f.Get("revision"))
	return n
}

// Catalogue.

type catalogueView struct {
	Drugs    []drugRow
	Diluents []relais.Diluent
	Hoods    []relais.Hood
	HasHoods bool
	Classes  []relais.DrugClass
	Kinds    []relais.HoodKind
}

type drugRow struct {
	relais.Drug
	Products []relais.Product
}

func (s *Server) cataloguePage(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.showCatalogue(w, r, p, http.StatusOK)
}

func (s *Server) showCatalogue(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	ctx := r.Context()
	drugs, err := s.Catalogue.Drugs(ctx)
	if err != nil {
		return err
	}
	products, err := s.Catalogue.Products(ctx, "")
	if err != nil {
		return err
	}
	byDrug := map[relais.ID][]relais.Product{}
	for _, pr := range products {
		byDrug[pr.DrugID] = append(byDrug[pr.DrugID], pr)
	}
	v := catalogueView{Classes: relais.DrugClasses, Kinds: relais.HoodKinds, HasHoods: s.Hoods != nil}
	for _, d := range drugs {
		v.Drugs = append(v.Drugs, drugRow{Drug: d, Products: byDrug[d.ID]})
	}
	if v.Diluents, err = s.Catalogue.Diluents(ctx); err != nil {
		return err
	}
	if s.Hoods != nil {
		if v.Hoods, err = s.Hoods.Hoods(ctx); err != nil {
			return err
		}
	}
	p.Title = p.T("catalogue.title")
	p.Data = v
	s.renderTemplate(w, r, "catalogue", "layout", status, p)
	return nil
}

// saveDrug creates a drug (no id) or changes one.
func (s *Server) saveDrug(w http.ResponseWriter, r *http.Request, p *page) error {
	f := r.PostForm
	d := relais.Drug{INN: f.Get("inn"), Class: relais.DrugClass(f.Get("class")), Cytotoxic: f.Get("cytotoxic") == "on",
		Comment: strings.TrimSpace(f.Get("comment")), Revision: revisionOf(f)}
	form := "drug-new"
	var err error
	if r.PathValue("id") == "" {
		_, err = s.Catalogue.CreateDrug(r.Context(), d)
	} else {
		if d.ID, err = pathID(r, "id"); err != nil {
			return err
		}
		form = "drug-" + string(d.ID)
		_, err = s.Catalogue.UpdateDrug(r.Context(), d)
	}
	if err != nil {
		if !refused(err) {
			return err
		}
		p.refuseForm(form, f, err)
		return s.showCatalogue(w, r, p, StatusOf(relais.ErrorKind(err)))
	}
	return doneAt(w, r, "/catalogue", "h-drugs", "catalogue_saved")
}

// saveDiluent creates a diluent (no id) or changes one; volumes are typed
// as a list: "50; 100; 250" or "50, 100".
func (s *Server) saveDiluent(w http.ResponseWriter, r *http.Request, p *page) error {
	const op = "diluent.save"
	f := r.PostForm
	d := relais.Diluent{Name: f.Get("name"), Comment: strings.TrimSpace(f.Get("comment")), Revision: revisionOf(f)}
	var errs []error
	for _, part := range splitList(f.Get("volumes_ml")) {
		v, err := parseNumber(op, "volumes_ml", part)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.VolumesML = append(d.VolumesML, v)
	}
	form := "diluent-new"
	var err error
	if r.PathValue("id") != "" {
		if d.ID, err = pathID(r, "id"); err != nil {
			return err
		}
		form = "diluent-" + string(d.ID)
	}
	if err = withValidation(op, errs, d.Validate(op)); err == nil {
		if d.ID == "" {
			_, err = s.Catalogue.CreateDiluent(r.Context(), d)
		} else {
			_, err = s.Catalogue.UpdateDiluent(r.Context(), d)
		}
	}
	if err != nil {
		if !refused(err) {
			return err
		}
		p.refuseForm(form, f, err)
		return s.showCatalogue(w, r, p, StatusOf(relais.ErrorKind(err)))
	}
	return doneAt(w, r, "/catalogue", "h-diluents", "catalogue_saved")
}

// splitList splits "50; 100; 250" (or commas between whole numbers, or
// spaces) into its parts. A decimal comma is kept when parts are separated
// by semicolons.
func splitList(s string) []string {
	sep := func(r rune) bool { return r == ';' || r == ' ' || r == '\n' }
	if !strings.Contains(s, ";") {
		sep = func(r rune) bool { return r == ';' || r == ' ' || r == ',' || r == '\n' }
	}
	return strings.FieldsFunc(s, sep)
}

// saveHood creates a hood (no id) or changes one.
func (s *Server) saveHood(w http.ResponseWriter, r *http.Request, p *page) error {
	f := r.PostForm
	h := relais.Hood{Name: f.Get("name"), Kind: relais.HoodKind(f.Get("kind")), Active: f.Get("active") == "on",
		Comment: f.Get("comment"), Revision: revisionOf(f)}
	form := "hood-new"
	var err error
	if r.PathValue("id") == "" {
		_, err = s.Hoods.CreateHood(r.Context(), h)
	} else {
		if h.ID, err = pathID(r, "id"); err != nil {
			return err
		}
		form = "hood-" + string(h.ID)
		_, err = s.Hoods.UpdateHood(r.Context(), h)
	}
	if err != nil {
		if !refused(err) {
			return err
		}
		p.refuseForm(form, f, err)
		relabel(p, map[string]string{"kind": "adm.f.hood_kind", "name": "adm.f.hood_name"})
		return s.showCatalogue(w, r, p, StatusOf(relais.ErrorKind(err)))
	}
	return doneAt(w, r, "/catalogue", "h-hoods", "catalogue_saved")
}

// Products.

type productView struct {
	Product    relais.Product // the product shown (zero when new)
	New        bool
	Drugs      []relais.Drug
	DrugINN    string
	Forms      []relais.ProductForm
	Units      []string
	Conditions []relais.StabilityCondition
}

func (s *Server) productPage(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.showProduct(w, r, p, http.StatusOK)
}

func (s *Server) showProduct(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	ctx := r.Context()
	v := productView{Forms: []relais.ProductForm{relais.FormSolution, relais.FormPowder, relais.FormTablet, relais.FormCapsule, relais.FormOralSolution},
		Units: relais.DoseUnits, Conditions: []relais.StabilityCondition{relais.AfterOpening, relais.AfterReconstitution, relais.AfterDilution}}
	var err error
	if v.Drugs, err = s.Catalogue.Drugs(ctx); err != nil {
		return err
	}
	if r.PathValue("id") == "" {
		v.New = true
		v.Product.DrugID = relais.ID(r.FormValue("drug_id"))
		v.Product.Form = relais.FormSolution
		v.Product.StrengthUnit = "mg"
	} else {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		if v.Product, err = s.Catalogue.Product(ctx, id); err != nil {
			return err
		}
	}
	for _, d := range v.Drugs {
		if d.ID == v.Product.DrugID {
			v.DrugINN = d.INN
		}
	}
	if v.New {
		p.Title = p.T("adm.product.new")
	} else {
		p.Title = v.Product.Brand
	}
	p.Data = v
	s.renderTemplate(w, r, "product", "layout", status, p)
	return nil
}

// saveProduct creates a product (no id) or changes one; its stability
// entries are added one by one (addStability).
func (s *Server) saveProduct(w http.ResponseWriter, r *http.Request, p *page) error {
	const op = "product.save"
	f := r.PostForm
	pr := relais.Product{DrugID: relais.ID(f.Get("drug_id")), Brand: strings.TrimSpace(f.Get("brand")),
		UCD: strings.ReplaceAll(strings.TrimSpace(f.Get("ucd")), " ", ""), Form: relais.ProductForm(f.Get("form")),
		StrengthUnit: f.Get("strength_unit"), Reconstitution: strings.TrimSpace(f.Get("reconstitution")),
		ListeEnSus: f.Get("liste_en_sus") == "on", Comment: strings.TrimSpace(f.Get("comment")), Revision: revisionOf(f)}
	var errs []error
	num := func(field string, required bool, dst *float64) {
		var v float64
		var err error
		if required {
			v, err = parseNumber(op, field, f.Get(field))
		} else {
			v, err = optNumber(op, field, f.Get(field))
		}
		if err != nil {
			errs = append(errs, err)
		}
		*dst = v
	}
	num("strength", true, &pr.Strength)
	num("volume_ml", false, &pr.VolumeML)
	num("concentration", false, &pr.Concentration)
	num("density_g_ml", false, &pr.DensityGML)
	ctx := r.Context()
	var err error
	form := "product"
	if r.PathValue("id") != "" {
		if pr.ID, err = pathID(r, "id"); err != nil {
			return err
		}
		// The stability entries are kept as they are: sent back as read.
		cur, err := s.Catalogue.Product(ctx, pr.ID)
		if err != nil {
			return err
		}
		pr.Stability = cur.Stability
	}
	out := pr
	if err = withValidation(op, errs, pr.Validate(op)); err == nil {
		if pr.ID == "" {
			out, err = s.Catalogue.CreateProduct(ctx, pr)
		} else {
			out, err = s.Catalogue.UpdateProduct(ctx, pr)
		}
	}
	if err != nil {
		if !refused(err) {
			return err
		}
		p.refuseForm(form, f, err)
		return s.showProduct(w, r, p, StatusOf(relais.ErrorKind(err)))
	}
	return done(w, r, "/catalogue/products/"+string(out.ID), "catalogue_saved")
}

// addStability adds one stability entry, with its source, to a product.
func (s *Server) addStability(w http.ResponseWriter, r *http.Request, p *page) error {
	const op = "product.stability.add"
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	f := r.PostForm
	st := relais.Stability{Condition: relais.StabilityCondition(f.Get("condition")), Storage: strings.TrimSpace(f.Get("storage")),
		ProtectFromLight: f.Get("protect_from_light") == "on", Diluent: strings.TrimSpace(f.Get("diluent")),
		Container: strings.TrimSpace(f.Get("container")), Source: strings.TrimSpace(f.Get("source"))}
	var errs []error
	if st.DurationHours, err = parseNumber(op, "duration_hours", f.Get("duration_hours")); err != nil {
		errs = append(errs, err)
	}
	if st.MinConcentration, err = optNumber(op, "min_concentration", f.Get("min_concentration")); err != nil {
		errs = append(errs, err)
	}
	if st.MaxConcentration, err = optNumber(op, "max_concentration", f.Get("max_concentration")); err != nil {
		errs = append(errs, err)
	}
	if err = withValidation(op, errs, st.Validate(op)); err == nil {
		_, err = s.Catalogue.AddStability(r.Context(), id, st)
	}
	if err != nil {
		if !refused(err) {
			return err
		}
		p.refuseForm("stability", f, err)
		return s.showProduct(w, r, p, StatusOf(relais.ErrorKind(err)))
	}
	return doneAt(w, r, "/catalogue/products/"+string(id), "h-stability", "stability_added")
}

// Users.

type usersView struct {
	Users []relais.User
	Roles []relais.Role
	// Reset is a password-reset link just issued, shown once.
	Reset    *ResetLink
	ResetFor relais.User
}

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.showUsers(w, r, p, http.StatusOK, nil, relais.User{})
}

func (s *Server) showUsers(w http.ResponseWriter, r *http.Request, p *page, status int, reset *ResetLink, who relais.User) error {
	us, err := s.Users.Users(r.Context())
	if err != nil {
		return err
	}
	order := map[relais.Role]int{}
	for i, role := range relais.Roles {
		order[role] = i
	}
	sort.SliceStable(us, func(i, j int) bool {
		if order[us[i].Role] != order[us[j].Role] {
			return order[us[i].Role] < order[us[j].Role]
		}
		return us[i].Username < us[j].Username
	})
	p.Title = p.T("users.title")
	p.Data = usersView{Users: us, Roles: relais.Roles, Reset: reset, ResetFor: who}
	if reset != nil {
		// A page holding a secret is never cached (renderBlock says
		// no-store already) nor sent elsewhere by the referrer.
		w.Header().Set("Referrer-Policy", "no-referrer")
	}
	s.renderTemplate(w, r, "users", "layout", status, p)
	return nil
}

// createUser makes an account without a password: the administrator then
// gives its owner a reset link (or the owner signs in by single sign-on).
func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p *page) error {
	f := r.PostForm
	u := relais.User{Username: strings.TrimSpace(f.Get("username")), Name: strings.TrimSpace(f.Get("name")), Role: relais.Role(f.Get("role"))}
	if _, err := s.Users.CreateUser(r.Context(), u, ""); err != nil {
		if !refused(err) {
			return err
		}
		p.refuseForm("user-new", f, err)
		return s.showUsers(w, r, p, StatusOf(relais.ErrorKind(err)), nil, relais.User{})
	}
	return done(w, r, "/users", "user_created")
}

// userAction changes one account from the list.
func (s *Server) userAction(action string) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, p *page) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		ctx := r.Context()
		var u relais.User
		switch action {
		case "role":
			role := relais.Role(r.PostFormValue("role"))
			u, err = s.Users.UpdateUser(ctx, id, relais.UserUpdate{Role: &role})
		case "disable", "enable":
			if action == "disable" && p.User != nil && p.User.ID == id {
				err = relais.Invalid("user.disable", "disabled", "you cannot disable your own account: ask another administrator")
				break
			}
			u, err = s.Users.SetUserDisabled(ctx, id, action == "disable")
		case "unlock":
			u, err = s.Users.UnlockUser(ctx, id)
		case "reset":
			pr, secret, err := s.Users.IssuePasswordReset(ctx, id, s.auth.cfg.ResetTTL)
			if err != nil {
				if !refused(err) {
					return err
				}
				p.refuseForm("user-"+string(id), r.PostForm, err)
				return s.showUsers(w, r, p, StatusOf(relais.ErrorKind(err)), nil, relais.User{})
			}
			who, err := s.Users.UserByID(ctx, id)
			if err != nil {
				return err
			}
			p.Flash = p.T("flash.reset_issued")
			return s.showUsers(w, r, p, http.StatusOK, &ResetLink{PasswordReset: pr, Link: s.baseURL(r) + "/reset#" + secret}, who)
		}
		if err != nil {
			if !refused(err) {
				return err
			}
			p.refuseForm("user-"+string(id), r.PostForm, err)
			return s.showUsers(w, r, p, StatusOf(relais.ErrorKind(err)), nil, relais.User{})
		}
		return doneAt(w, r, "/users", fmt.Sprintf("user-%s", u.ID), "user_"+action)
	}
}

// Checked says whether checkbox name of form fid is ticked: as typed when
// the form was refused, else def.
func (p *page) Checked(fid, name string, def bool) bool {
	if p.FormFailed(fid) {
		return p.Form.Values.Get(name) == "on"
	}
	return def
}

// NumOpt writes an optional number for a form field: "" for 0.
func (p *page) NumOpt(v float64) string {
	if v == 0 {
		return ""
	}
	return p.Num(v)
}

// Volumes writes a diluent's bag volumes as typed in its form: "50; 100".
func (p *page) Volumes(vs []float64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = p.Num(v)
	}
	return strings.Join(parts, "; ")
}

// doneAt is done for a page whose place (#fragment) the browser goes back
// to: the confirmation goes in the query, before the fragment.
func doneAt(w http.ResponseWriter, r *http.Request, path, fragment, flash string) error {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	http.Redirect(w, r, path+sep+"ok="+url.QueryEscape(flash)+"#"+fragment, http.StatusSeeOther)
	return nil
}
