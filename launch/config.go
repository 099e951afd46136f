package launch

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/go-jose/go-jose/v4"

	"github.com/relais-onco/relais"
)

// Config is a site's launch configuration, written by its IT: which EHRs
// may launch, with which keys, and how their roles map to Relais roles.
type Config struct {
	Site string
	// DecryptionKey is the site's private key for encrypted tokens (nil:
	// only signed tokens are accepted).
	DecryptionKey crypto.PrivateKey
	EHRs          map[string]*EHR
}

// EHR is one EHR allowed to launch.
type EHR struct {
	ID   string
	Name string
	// Keys verify its tokens; a token's kid picks one, else each is tried.
	Keys []jose.JSONWebKey
	// Roles maps the EHR's role codes to Relais roles.
	Roles map[string]relais.Role
	// CreatePatients lets a launch create a patient Relais does not know
	// (from the token's identity traits); otherwise such a launch is refused.
	CreatePatients bool
	// RequireEncryption refuses tokens that are only signed.
	RequireEncryption bool
}

// Role maps an EHR role code.
func (e *EHR) Role(code string) (relais.Role, bool) {
	r, ok := e.Roles[code]
	return r, ok && r.Valid() && r != relais.RoleSystem
}

// fileConfig is the JSON file (docs/integration/launch.md shows one).
type fileConfig struct {
	Site          string `json:"site"`
	DecryptionKey string `json:"decryption_key,omitempty"`
	EHRs          []struct {
		ID                string            `json:"id"`
		Name              string            `json:"name"`
		PublicKeys        []string          `json:"public_keys"`
		Roles             map[string]string `json:"roles"`
		CreatePatients    bool              `json:"create_patients"`
		RequireEncryption bool              `json:"require_encryption"`
	} `json:"ehrs"`
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// LoadConfig reads a launch configuration file. Key paths are relative to
// the file's folder. Every fault names its place in the file.
func LoadConfig(path string) (*Config, error) {
	const op = "launch.config"
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, relais.E(op, relais.KindInvalid, relais.Field("launch-config"), "cannot read the launch configuration", err)
	}
	var fc fileConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return nil, relais.E(op, relais.KindInvalid, relais.Field("launch-config"), path+" is not the JSON expected: "+err.Error())
	}
	dir := filepath.Dir(path)
	rel := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	cfg := &Config{Site: fc.Site, EHRs: map[string]*EHR{}}
	var errs []error
	if fc.Site == "" {
		errs = append(errs, relais.Invalid(op, "site", "the site's id is required: tokens must name it in aud"))
	}
	if fc.DecryptionKey != "" {
		k, err := ReadPrivateKey(rel(fc.DecryptionKey))
		if err != nil {
			errs = append(errs, relais.Invalid(op, "decryption_key", "%v", err))
		}
		cfg.DecryptionKey = k
	}
	for i, e := range fc.EHRs {
		field := fmt.Sprintf("ehrs[%d]", i)
		if !idPattern.MatchString(e.ID) {
			errs = append(errs, relais.Invalid(op, field+".id", "an EHR id has lower-case letters, digits, . _ -, e.g. dpi-chg-libourne"))
			continue
		}
		if _, dup := cfg.EHRs[e.ID]; dup {
			errs = append(errs, relais.Invalid(op, field+".id", "EHR %s is configured twice", e.ID))
			continue
		}
		ehr := &EHR{ID: e.ID, Name: e.Name, Roles: map[string]relais.Role{}, CreatePatients: e.CreatePatients, RequireEncryption: e.RequireEncryption}
		if len(e.PublicKeys) == 0 {
			errs = append(errs, relais.Invalid(op, field+".public_keys", "at least one public key of the EHR is required"))
		}
		for j, p := range e.PublicKeys {
			k, err := ReadPublicKey(rel(p))
			if err != nil {
				errs = append(errs, relais.Invalid(op, fmt.Sprintf("%s.public_keys[%d]", field, j), "%v", err))
				continue
			}
			ehr.Keys = append(ehr.Keys, k)
		}
		for code, role := range e.Roles {
			r := relais.Role(role)
			if !r.Valid() || r == relais.RoleSystem {
				errs = append(errs, relais.Invalid(op, field+".roles."+code, "%q is not a Relais role", role))
				continue
			}
			ehr.Roles[code] = r
		}
		if len(ehr.Roles) == 0 {
			errs = append(errs, relais.Invalid(op, field+".roles", "map at least one of the EHR's role codes to a Relais role"))
		}
		cfg.EHRs[e.ID] = ehr
	}
	if len(fc.EHRs) == 0 {
		errs = append(errs, relais.Invalid(op, "ehrs", "no EHR is configured"))
	}
	if err := relais.Errors(op, errs); err != nil {
		return nil, err
	}
	return cfg, nil
}

// ReadPublicKey reads a PEM public key (PKIX "PUBLIC KEY", or the key of a
// "CERTIFICATE") or a JWK; its kid is the JWK's, or the RFC 7638 thumbprint.
func ReadPublicKey(path string) (jose.JSONWebKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	var k jose.JSONWebKey
	if json.Valid(b) {
		if err := k.UnmarshalJSON(b); err != nil {
			return k, fmt.Errorf("%s: not a JWK: %v", path, err)
		}
		if !k.IsPublic() {
			k = k.Public()
		}
		return k, checkKeyType(path, k.Key)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return k, fmt.Errorf("%s: not a PEM public key nor a JWK", path)
	}
	var pub any
	switch blk.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(blk.Bytes); err == nil {
			pub = cert.PublicKey
		}
	default:
		err = fmt.Errorf("PEM block %q: expected PUBLIC KEY or CERTIFICATE", blk.Type)
	}
	if err != nil {
		return k, fmt.Errorf("%s: %v", path, err)
	}
	k = jose.JSONWebKey{Key: pub}
	if err := checkKeyType(path, pub); err != nil {
		return k, err
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err == nil {
		k.KeyID = fmt.Sprintf("%x", tp)
	}
	return k, nil
}

func checkKeyType(path string, k any) error {
	switch k.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey:
		return nil
	case ed25519.PublicKey:
		return fmt.Errorf("%s: Ed25519 keys are not accepted for launch tokens: use ES256 or RS256", path)
	}
	return fmt.Errorf("%s: an EC (P-256, P-384) or RSA public key is expected, not %T", path, k)
}

// ReadPrivateKey reads a PEM private key (PKCS #8, SEC 1 EC, PKCS #1 RSA).
func ReadPrivateKey(path string) (crypto.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: not a PEM private key", path)
	}
	switch blk.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		switch k.(type) {
		case *ecdsa.PrivateKey, *rsa.PrivateKey:
			return k, nil
		}
		return nil, fmt.Errorf("%s: an EC or RSA private key is expected, not %T", path, k)
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		return k, nil
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%s: PEM block %q is not a private key", path, blk.Type)
}
