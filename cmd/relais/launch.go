package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"html/template"
	"io"
	"os"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/launch"
)

// `relais launch` makes a contextual launch token as an EHR would, for the
// integrators who wire their EHR to Relais (docs/integration/launch.md): to
// see what a token holds, to test a site's configuration, and to make the
// EHR's key pair.

func init() {
	register("launch", "make a contextual launch token, as an EHR would (for integrators)", runLaunch)
}

func runLaunch(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("launch", stderr)
	var (
		keyFile    = fs.String("key", "", "the EHR's private signing key `FILE` (PEM: EC P-256/P-384 or RSA ≥ 2048)")
		newKey     = fs.String("new-key", "", "make a new EC P-256 key pair: private key to `FILE`, public key to FILE.pub, then stop")
		ehr        = fs.String("ehr", "", "the EHR's `ID`, as the site configured it (iss)")
		site       = fs.String("site", "", "the Relais site's `ID` (aud)")
		userID     = fs.String("user", "", "the user's `ID` at the EHR (sub)")
		userName   = fs.String("user-name", "", "the user's display `NAME`, e.g. \"Dr Claire Martin\"")
		role       = fs.String("role", "", "the user's role `CODE` at the EHR (the site maps it to a Relais role)")
		rpps       = fs.String("rpps", "", "the user's RPPS `NUMBER` (11 digits), if any")
		ipp        = fs.String("patient-ipp", "", "the patient's `IPP`")
		ins        = fs.String("patient-ins", "", "the patient's INS `MATRICULE` (15 characters), if any")
		oid        = fs.String("patient-oid", relais.OIDNIR, "the INS `OID` (NIR 1.2.250.1.213.1.4.8, NIA 1.2.250.1.213.1.4.10)")
		status     = fs.String("patient-status", "", "identity `STATUS`: provisional, recovered, validated, qualified (default: qualified with an INS, provisional without)")
		birthName  = fs.String("patient-birth-name", "", "birth `NAME`")
		usedName   = fs.String("patient-used-name", "", "used `NAME`, if different")
		firstNames = fs.String("patient-first-names", "", "birth first `NAMES`, comma-separated, the usual one first")
		birthDate  = fs.String("patient-birth-date", "", "birth `DATE`, YYYY-MM-DD")
		sex        = fs.String("patient-sex", "", "`SEX`: M, F or U")
		birthplace = fs.String("patient-birthplace", "", "INSEE `CODE` of the birth commune")
		purpose    = fs.String("purpose", "care", "`PURPOSE` of the access: "+strings.Join(relais.Purposes, ", "))
		lifetime   = fs.Duration("lifetime", launch.MaxLifetime, "`DURATION` before the token expires (60s at most)")
		encryptTo  = fs.String("encrypt-to", "", "encrypt the token to the site's public key `FILE` (PEM)")
		htmlURL    = fs.String("html", "", "print an HTML page that posts the token to Relais at `URL` (e.g. https://relais.chu.example) instead of the bare token")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *newKey != "" {
		return writeKeyPair(*newKey, stdout)
	}
	var missing []string
	for name, v := range map[string]string{"--key": *keyFile, "--ehr": *ehr, "--site": *site, "--user": *userID,
		"--user-name": *userName, "--role": *role} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if *ipp == "" && *ins == "" {
		missing = append(missing, "--patient-ipp (or --patient-ins)")
	}
	if len(missing) > 0 {
		return relais.E("launch", relais.KindInvalid, "missing: "+strings.Join(missing, ", ")+" (relais launch -h lists the flags)")
	}
	if *lifetime <= 0 || *lifetime > launch.MaxLifetime {
		return relais.Invalid("launch", "lifetime", "the lifetime is at most %s: Relais refuses longer-lived tokens", launch.MaxLifetime)
	}
	key, err := launch.ReadPrivateKey(*keyFile)
	if err != nil {
		return relais.E("launch", relais.KindInvalid, relais.Field("key"), err.Error())
	}
	st := relais.IdentityStatus(*status)
	if st == "" {
		st = relais.IdentityProvisional
		if *ins != "" {
			st = relais.IdentityQualified
		}
	}
	insv := &relais.INS{Status: st}
	if *ins != "" {
		insv.Matricule, insv.OID = relais.CleanMatricule(*ins), *oid
	}
	var names []string
	for _, n := range strings.Split(*firstNames, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	o := launch.MakeOptions{Key: key, EHR: *ehr, Site: *site, Purpose: *purpose, Lifetime: *lifetime,
		User: launch.User{ID: *userID, Name: *userName, Role: *role, RPPS: *rpps},
		Patient: launch.Patient{IPP: *ipp, INS: insv, BirthName: *birthName, UsedName: *usedName, FirstNames: names,
			BirthDate: relais.Date(*birthDate), Sex: relais.Sex(strings.ToUpper(*sex)), BirthplaceCode: *birthplace}}
	if *encryptTo != "" {
		pub, err := launch.ReadPublicKey(*encryptTo)
		if err != nil {
			return relais.E("launch", relais.KindInvalid, relais.Field("encrypt-to"), err.Error())
		}
		o.EncryptTo = pub.Key.(crypto.PublicKey)
	}
	tok, err := launch.Make(o)
	if err != nil {
		return err
	}
	if *htmlURL == "" {
		fmt.Fprintln(stdout, tok)
		return nil
	}
	return launchPage.Execute(stdout, map[string]string{"Action": strings.TrimRight(*htmlURL, "/") + "/launch", "Token": tok,
		"Expires": time.Now().Add(*lifetime).Format(time.RFC3339)})
}

// launchPage posts the token as soon as it is opened (the EHR's own page
// would do the same); without scripts, the button does.
var launchPage = template.Must(template.New("launch").Parse(`<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Relais — appel contextuel / contextual launch</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}">
<input type="hidden" name="token" value="{{.Token}}">
<p>Jeton valable jusqu'à / token valid until {{.Expires}} — une seule fois / once.</p>
<button type="submit">Ouvrir le dossier dans Relais / Open the record in Relais</button>
</form>
</body></html>
`))

func writeKeyPair(path string, stdout io.Writer) error {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(path+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "private key (keep it in the EHR): %s\npublic key (give it to the site's IT): %s.pub\n", path, path)
	return nil
}
