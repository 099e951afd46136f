package launch

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/relais-onco/relais"
)

// publishedNIR: « 2 06 12 75 111 005 … sa clé est : 64 » (lbcd78.fr,
// « Calcul de la clé du n° de sécurité sociale », 2007).
const publishedNIR = "206127511100564"

type keys struct {
	ehr    *ecdsa.PrivateKey
	ehrRSA *rsa.PrivateKey
	other  *ecdsa.PrivateKey
	site   *ecdsa.PrivateKey
}

func newKeys(t testing.TB) keys {
	t.Helper()
	ec := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return keys{ehr: ec(), ehrRSA: r, other: ec(), site: ec()}
}

func testConfig(k keys) *Config {
	return &Config{Site: "chu-test", DecryptionKey: k.site, EHRs: map[string]*EHR{
		"dpi-chg": {ID: "dpi-chg", Keys: []jose.JSONWebKey{{Key: &k.ehr.PublicKey}, {Key: &k.ehrRSA.PublicKey}},
			Roles: map[string]relais.Role{"MED": relais.RolePrescriber, "IDE": relais.RoleNurse}, CreatePatients: true},
		"dpi-sealed": {ID: "dpi-sealed", Keys: []jose.JSONWebKey{{Key: &k.ehr.PublicKey}},
			Roles: map[string]relais.Role{"MED": relais.RolePrescriber}, RequireEncryption: true},
	}}
}

func opts(k keys, now time.Time) MakeOptions {
	return MakeOptions{Key: k.ehr, EHR: "dpi-chg", Site: "chu-test", Now: now,
		User: User{ID: "u42", Name: "Dr Claire Martin", Role: "MED", RPPS: "10101010101"},
		Patient: Patient{IPP: "7001", INS: &relais.INS{Matricule: publishedNIR, OID: relais.OIDNIR, Status: relais.IdentityQualified},
			BirthName: "DUPONT", FirstNames: []string{"Marie"}, BirthDate: "2006-12-14", Sex: relais.SexFemale}}
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerify(t *testing.T) {
	k := newKeys(t)
	cfg := testConfig(k)
	now := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	good := opts(k, now)
	claims := Claims{Issuer: "dpi-chg", Audience: jwt.Audience{"chu-test"}, Subject: "u42", IssuedAt: jwt.NewNumericDate(now),
		Expiry: jwt.NewNumericDate(now.Add(30 * time.Second)), ID: "j1", User: good.User, Patient: good.Patient, Purpose: "care"}
	pubDER, _ := x509.MarshalPKIXPublicKey(&k.ehr.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	// The classic confusion: an HMAC "signed" with the EHR's public key,
	// which everyone has.
	hs, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pubPEM}, nil)
	hsTok, _ := jwt.Signed(hs).Claims(claims).Serialize()

	with := func(f func(o *MakeOptions)) string {
		o := good
		f(&o)
		tok, err := Make(o)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, tc := range []struct {
		name, token, want string // want: "" accepted, else a part of the refusal
		at                time.Time
	}{
		{"ES256", with(func(o *MakeOptions) {}), "", now},
		{"RS256", with(func(o *MakeOptions) { o.Key = k.ehrRSA }), "", now},
		{"encrypted to the site", with(func(o *MakeOptions) { o.EncryptTo = &k.site.PublicKey }), "", now},
		{"encrypted, required", with(func(o *MakeOptions) { o.EHR = "dpi-sealed"; o.EncryptTo = &k.site.PublicKey }), "", now},
		{"signed only, encryption required", with(func(o *MakeOptions) { o.EHR = "dpi-sealed" }), "must encrypt", now},
		{"encrypted to another key", with(func(o *MakeOptions) { o.EncryptTo = &k.other.PublicKey }), "not encrypted to this site", now},
		{"unsigned (alg none)", b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + b64(claims) + ".", "refused", now},
		{"HS256 with the public key", hsTok, "refused", now},
		{"another key", with(func(o *MakeOptions) { o.Key = k.other }), "signature does not match", now},
		{"another key, same kid", with(func(o *MakeOptions) { o.Key = k.other; o.KeyID = "" }), "signature", now},
		{"expired", with(func(o *MakeOptions) {}), "expired", now.Add(66 * time.Second)},
		{"lives too long", with(func(o *MakeOptions) { o.Lifetime = 61 * time.Second }), "longer than 1m0s", now},
		{"issued in the future", with(func(o *MakeOptions) {}), "future", now.Add(-time.Minute)},
		{"another site", with(func(o *MakeOptions) { o.Site = "chu-other" }), "not for this site", now},
		{"unknown EHR", with(func(o *MakeOptions) { o.EHR = "dpi-unknown" }), "not an EHR configured", now},
		{"role not mapped", with(func(o *MakeOptions) { o.User.Role = "SECR" }), "not mapped", now},
		{"unknown purpose", with(func(o *MakeOptions) { o.Purpose = "curiosity" }), "purpose", now},
		{"no patient id", with(func(o *MakeOptions) { o.Patient.IPP = ""; o.Patient.INS = nil }), "patient.ipp", now},
		{"garbage", "not.a.token", "not a JWT", now},
		{"empty", "", "no launch token", now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ehr, err := Verify(cfg, tc.token, tc.at)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if c.User.ID != "u42" || c.Patient.IPP != "7001" || ehr == nil || c.ID == "" {
					t.Errorf("claims = %+v", c)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if relais.ErrorKind(err) != relais.KindUnauthorized || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want unauthorized mentioning %q", err, tc.want)
			}
		})
	}
}

func TestUsername(t *testing.T) {
	for _, tc := range []struct {
		u    User
		want string
	}{
		{User{ID: "X", RPPS: "10101010101"}, "rpps.10101010101"},
		{User{ID: "Jean Dupont/42"}, "dpi-chg.jean-dupont-42"},
		{User{ID: strings.Repeat("a", 100)}, "dpi-chg." + strings.Repeat("a", 56)},
	} {
		if got := Username("dpi-chg", tc.u); got != tc.want {
			t.Errorf("%+v → %q, want %q", tc.u, got, tc.want)
		}
	}
}

// FuzzVerify: whatever is posted, Verify answers with an error or claims,
// never a panic; and what it accepts was signed by the configured key.
func FuzzVerify(f *testing.F) {
	k := newKeys(f)
	cfg := testConfig(k)
	now := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	tok, _ := Make(opts(k, now))
	enc := opts(k, now)
	enc.EncryptTo = &k.site.PublicKey
	etok, _ := Make(enc)
	f.Add(tok)
	f.Add(etok)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c.d.e")
	f.Fuzz(func(t *testing.T, s string) {
		c, _, err := Verify(cfg, s, now)
		if err == nil && s != tok && s != etok {
			// A different string may still be the same token (base64
			// padding bits); it must carry the same claims.
			if c.ID == "" || c.Issuer != "dpi-chg" {
				t.Fatalf("accepted a token with claims %+v", c)
			}
		}
	})
}
