package web_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/web"
)

// softKey is a software authenticator: what a security key does, written
// from the WebAuthn Level 2 recommendation (W3C, 2021), §6.1 (authenticator
// data), §6.5.4 (attestation object, "none" format) and §7 (the relying
// party's checks), with COSE keys per RFC 9053 and CBOR per RFC 8949.
type softKey struct {
	t      testing.TB
	priv   *ecdsa.PrivateKey
	id     []byte
	count  uint32
	rpID   string
	origin string
	user   []byte
}

func newSoftKey(t testing.TB, rpID, origin string) *softKey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	return &softKey{t: t, priv: priv, id: id, rpID: rpID, origin: origin}
}

var b64u = base64.RawURLEncoding

// cborBytes and cborText encode a CBOR byte or text string header (RFC 8949 §3.1).
func cborHead(major byte, n int) []byte {
	switch {
	case n < 24:
		return []byte{major<<5 | byte(n)}
	case n < 256:
		return []byte{major<<5 | 24, byte(n)}
	default:
		return []byte{major<<5 | 25, byte(n >> 8), byte(n)}
	}
}
func cborBytes(b []byte) []byte { return append(cborHead(2, len(b)), b...) }
func cborText(s string) []byte  { return append(cborHead(3, len(s)), s...) }

// coseKey is the EC2 P-256 public key: {1: 2, 3: -7, -1: 1, -2: x, -3: y}.
func (k *softKey) coseKey() []byte {
	x := k.priv.PublicKey.X.FillBytes(make([]byte, 32))
	y := k.priv.PublicKey.Y.FillBytes(make([]byte, 32))
	out := []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21}
	out = append(out, cborBytes(x)...)
	out = append(out, 0x22)
	return append(out, cborBytes(y)...)
}

func (k *softKey) authData(flags byte, attested bool) []byte {
	h := sha256.Sum256([]byte(k.rpID))
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, k.count)
	if attested {
		out = append(out, make([]byte, 16)...) // AAGUID: none
		out = binary.BigEndian.AppendUint16(out, uint16(len(k.id)))
		out = append(out, k.id...)
		out = append(out, k.coseKey()...)
	}
	return out
}

func (k *softKey) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": k.origin, "crossOrigin": false})
	return b
}

// options reads the challenge (and user handle) out of the server's options.
func options(t testing.TB, body string) (challenge string, user []byte) {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			User      struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(body), &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("options: %v: %s", err, body)
	}
	if o.PublicKey.User.ID != "" {
		var err error
		if user, err = b64u.DecodeString(o.PublicKey.User.ID); err != nil {
			t.Fatal(err)
		}
	}
	return o.PublicKey.Challenge, user
}

// create answers navigator.credentials.create.
func (k *softKey) create(challenge string, user []byte) string {
	k.user = user
	ad := k.authData(0x45, true) // user present, user verified, attested credential data
	att := []byte{0xa3}
	att = append(att, cborText("fmt")...)
	att = append(att, cborText("none")...)
	att = append(att, cborText("attStmt")...)
	att = append(att, 0xa0)
	att = append(att, cborText("authData")...)
	att = append(att, cborBytes(ad)...)
	return marshal(k.t, map[string]any{"id": b64u.EncodeToString(k.id), "rawId": b64u.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64u.EncodeToString(k.clientData("webauthn.create", challenge)),
			"attestationObject": b64u.EncodeToString(att), "transports": []string{"usb"}}})
}

// get answers navigator.credentials.get: a signature over the
// authenticator data and the client data's hash.
func (k *softKey) get(challenge string) string {
	k.count++
	ad := k.authData(0x05, false)
	cd := k.clientData("webauthn.get", challenge)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte(nil), ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		k.t.Fatal(err)
	}
	return marshal(k.t, map[string]any{"id": b64u.EncodeToString(k.id), "rawId": b64u.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64u.EncodeToString(cd), "authenticatorData": b64u.EncodeToString(ad),
			"signature": b64u.EncodeToString(sig), "userHandle": b64u.EncodeToString(k.user)}})
}

func TestPasskeyAsSecondFactor(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		e := newAccEnv(t, dsn, web.AuthConfig{PublicURL: "listen"})
		origin := strings.Replace(e.ts.URL, "127.0.0.1", "localhost", 1)
		key := newSoftKey(t, "localhost", origin)

		// Register, signed in with the password.
		c := e.client().signIn(relais.RoleNurse)
		r := c.do("POST", "/api/v1/passkeys/register/begin", "")
		if r.status != 200 {
			t.Fatalf("register begin: %d %s", r.status, r.body)
		}
		ch, user := options(t, r.body)
		if string(user) != string(e.users[relais.RoleNurse].ID) {
			t.Fatalf("user handle %q", user)
		}
		// An answer made for another origin (a phishing copy of the site).
		phish := *key
		phish.origin = "https://relais.evil.example"
		if r := c.do("POST", "/api/v1/passkeys/register/finish?name=x", phish.create(ch, user)); r.status != 422 {
			t.Fatalf("registration from another origin: %d %s", r.status, r.body)
		}
		r = c.do("POST", "/api/v1/passkeys/register/begin", "")
		ch, user = options(t, r.body)
		r = c.do("POST", "/api/v1/passkeys/register/finish?name=YubiKey%20bleue", key.create(ch, user))
		if r.status != 201 {
			t.Fatalf("register finish: %d %s", r.status, r.body)
		}
		if pk := accJSON[relais.Passkey](t, r); pk.Name != "YubiKey bleue" || pk.CredentialID != b64u.EncodeToString(key.id) {
			t.Fatalf("passkey = %+v", pk)
		}

		// Now the password alone does not sign in.
		b := e.client()
		r = b.do("POST", "/api/v1/session", `{"username":"nurse","password":"password-nurse"}`)
		if res := accJSON[web.SignInResult](t, r); r.status != 200 || res.SecondFactor != "passkey" {
			t.Fatalf("password step: %d %s", r.status, r.body)
		}
		half := r.header.Get("Set-Cookie")
		if r := b.do("GET", "/api/v1/me", ""); r.status != 401 {
			t.Fatalf("half signed in reaches the API: %d", r.status)
		}
		if r := b.do("GET", "/", ""); r.status != http.StatusSeeOther {
			t.Fatalf("half signed in reaches a page: %d", r.status)
		}
		if r := b.do("GET", "/login", ""); !strings.Contains(r.body, `id="passkey-step"`) {
			t.Fatalf("the sign-in page does not ask for the passkey: %s", r.body)
		}
		// A wrong signature is refused.
		r = b.do("POST", "/api/v1/session/passkey/begin", "")
		ch, _ = options(t, r.body)
		forged := newSoftKey(t, "localhost", origin)
		forged.id, forged.user = key.id, key.user
		if r := b.do("POST", "/api/v1/session/passkey/finish", forged.get(ch)); r.status != 401 {
			t.Fatalf("forged signature: %d %s", r.status, r.body)
		}
		// The right key signs in, with a new session secret.
		r = b.do("POST", "/api/v1/session/passkey/begin", "")
		ch, _ = options(t, r.body)
		answer := key.get(ch)
		r = b.do("POST", "/api/v1/session/passkey/finish", answer)
		if r.status != 200 {
			t.Fatalf("passkey finish: %d %s", r.status, r.body)
		}
		if full := r.header.Get("Set-Cookie"); full == "" || strings.Split(full, ";")[0] == strings.Split(half, ";")[0] {
			t.Fatalf("the session secret was not renewed: %q then %q", half, full)
		}
		if r := b.do("GET", "/api/v1/me", ""); r.status != 200 {
			t.Fatalf("after the passkey: %d", r.status)
		}
		// The same answer again (replay) is refused: the challenge was used.
		d := e.client()
		d.do("POST", "/api/v1/session", `{"username":"nurse","password":"password-nurse"}`)
		d.do("POST", "/api/v1/session/passkey/begin", "")
		if r := d.do("POST", "/api/v1/session/passkey/finish", answer); r.status == 200 {
			t.Fatal("a replayed passkey answer signed in")
		}
		// HTTP Basic cannot skip the passkey.
		req, _ := http.NewRequest("GET", e.ts.URL+"/api/v1/me", nil)
		req.SetBasicAuth("nurse", "password-nurse")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("Basic with a passkey account: %d", resp.StatusCode)
		}
	})
}
