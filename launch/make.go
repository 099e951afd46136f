package launch

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/relais-onco/relais"
)

// MakeOptions make a token as an EHR would (relais launch, the tests, the
// integrators' examples).
type MakeOptions struct {
	Key       crypto.PrivateKey // the EHR's signing key (EC P-256/P-384 or RSA)
	KeyID     string            // kid header; empty: the key's RFC 7638 thumbprint
	EHR       string            // iss
	Site      string            // aud
	User      User
	Patient   Patient
	Purpose   string
	Lifetime  time.Duration // default 60 s
	ID        string        // jti; default a new UUIDv7
	Now       time.Time     // default time.Now
	EncryptTo crypto.PublicKey
}

// Make signs (and optionally encrypts) a launch token.
func Make(o MakeOptions) (string, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Lifetime == 0 {
		o.Lifetime = MaxLifetime
	}
	if o.ID == "" {
		o.ID = string(relais.NewID())
	}
	if o.Purpose == "" {
		o.Purpose = "care"
	}
	alg, err := signingAlg(o.Key)
	if err != nil {
		return "", err
	}
	kid := o.KeyID
	if kid == "" {
		if signer, ok := o.Key.(crypto.Signer); ok {
			tp, err := (&jose.JSONWebKey{Key: signer.Public()}).Thumbprint(crypto.SHA256)
			if err == nil {
				kid = fmt.Sprintf("%x", tp)
			}
		}
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: o.Key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	ins := o.Patient.INS
	if ins == nil {
		ins = &relais.INS{Status: relais.IdentityProvisional}
	}
	o.Patient.INS = ins
	c := Claims{Issuer: o.EHR, Audience: jwt.Audience{o.Site}, Subject: o.User.ID, IssuedAt: jwt.NewNumericDate(o.Now),
		Expiry: jwt.NewNumericDate(o.Now.Add(o.Lifetime)), ID: o.ID, User: o.User, Patient: o.Patient, Purpose: o.Purpose}
	if o.EncryptTo == nil {
		return jwt.Signed(sig).Claims(c).Serialize()
	}
	keyAlg := jose.RSA_OAEP_256
	if _, ok := o.EncryptTo.(*ecdsa.PublicKey); ok {
		keyAlg = jose.ECDH_ES_A256KW
	}
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: keyAlg, Key: o.EncryptTo},
		(&jose.EncrypterOptions{}).WithType("JWT").WithContentType("JWT"))
	if err != nil {
		return "", err
	}
	return jwt.SignedAndEncrypted(sig, enc).Claims(c).Serialize()
}

func signingAlg(k crypto.PrivateKey) (jose.SignatureAlgorithm, error) {
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		}
		return "", fmt.Errorf("launch: EC keys on P-256 or P-384 only")
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("launch: an RSA key of at least 2048 bits is needed")
		}
		return jose.RS256, nil
	}
	return "", fmt.Errorf("launch: an EC or RSA private key is needed, not %T", k)
}
