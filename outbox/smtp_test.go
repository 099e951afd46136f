package outbox

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/nodepeer"
)

// smtpPeer runs smtp-server (npm, the SMTP server of Nodemailer's authors)
// on loopback with a certificate made here, STARTTLS offered (or hidden),
// and PLAIN authentication after TLS. It writes each message it receives to
// a file (out.1, out.2, …) and prints its envelope.
const smtpPeer = `
const { SMTPServer } = require('smtp-server');
const fs = require('fs');
const [port, key, cert, out, hide] = process.argv.slice(2);
let n = 0;
const server = new SMTPServer({
  key: fs.readFileSync(key), cert: fs.readFileSync(cert), hideSTARTTLS: hide === 'hide',
  authMethods: ['PLAIN'], allowInsecureAuth: false, logger: false,
  onAuth(auth, session, cb) {
    if (auth.username === 'relais' && auth.password === 's3cret') return cb(null, { user: 'relais' });
    cb(new Error('bad credentials'));
  },
  onData(stream, session, cb) {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      fs.writeFileSync(out + '.' + (++n), Buffer.concat(chunks));
      console.log(JSON.stringify({ tls: !!session.secure, user: session.user || '', from: session.envelope.mailFrom.address,
        to: session.envelope.rcptTo.map((r) => r.address) }));
      cb();
    });
  },
});
server.listen(Number(port), '127.0.0.1', () => console.log('listening'));
`

type smtpRig struct {
	addr  string
	out   string
	count int // mails read so far
	lines *bufio.Scanner
	roots *x509.CertPool
}

func startSMTP(t *testing.T, hideTLS bool) *smtpRig {
	t.Helper()
	nodepeer.Dir(t)
	dir := t.TempDir()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mssante.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(k)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600)
	os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	cert, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	hide := ""
	if hideTLS {
		hide = "hide"
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := filepath.Join(dir, "received.eml")
	cmd := nodepeer.Command(t, ctx, smtpPeer, port, filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem"), out, hide)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "listening" {
		t.Fatalf("the SMTP server did not start: %q", sc.Text())
	}
	return &smtpRig{addr: "127.0.0.1:" + port, out: out, lines: sc, roots: roots}
}

func (r *smtpRig) transport() *SMTPTransport {
	return &SMTPTransport{Addr: r.addr, From: "relais@chu-test.mssante.fr", To: []string{"dpi@chg.mssante.fr"},
		Username: "relais", Password: "s3cret", TLSConfig: &tls.Config{RootCAs: r.roots, ServerName: "127.0.0.1"}, Timeout: 20 * time.Second}
}

// The mail goes over STARTTLS with authentication to a real SMTP server,
// and the IHE_XDM.ZIP read back from what it received holds the document:
// the PDF, then the CDA wrapping it.
func TestSMTPWithSTARTTLSAndXDM(t *testing.T) {
	r := startSMTP(t, false)
	doc := testPlan(t, relais.IdentityQualified)
	cdaFile, err := CDA(doc, testSiteOID, testIPPOID, CDAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := Destination{Name: "mss", Transport: TransportSMTP, From: "relais@chu-test.mssante.fr", To: []string{"dpi@chg.mssante.fr"}}
	for _, f := range []File{doc.PDFFile(), cdaFile} {
		payload, err := Mail(doc, f, "chu-test", testSiteOID, testIPPOID, d, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.transport().Send(context.Background(), payload); err != nil {
			t.Fatalf("send: %v", err)
		}
		zipped := r.received(t, d, doc.Title)
		file, mimeType, _, _ := readXDM(t, zipped)
		switch f.Format {
		case FormatPDF:
			if mimeType != "application/pdf" || !strings.Contains(pdfText(t, file), "30,75 mg") {
				t.Error("the PDF in the XDM zip is not the treatment plan")
			}
		case FormatCDA:
			if mimeType != "text/xml" {
				t.Errorf("the CDA is described as %s", mimeType)
			}
			checkCDA(t, file, doc, "30,75 mg", "6,15 mg")
		}
	}
}

// received reads the envelope the server printed and the mail it wrote,
// checks them, and returns the IHE_XDM.ZIP attached.
func (r *smtpRig) received(t *testing.T, d Destination, title string) []byte {
	t.Helper()
	if !r.lines.Scan() {
		t.Fatal("the server received nothing")
	}
	var env struct {
		TLS  bool
		User string
		From string
		To   []string
	}
	json.Unmarshal(r.lines.Bytes(), &env)
	if !env.TLS || env.User != "relais" || env.From != d.From || len(env.To) != 1 || env.To[0] != d.To[0] {
		t.Fatalf("envelope seen by the server: %s", r.lines.Text())
	}
	r.count++
	raw, err := os.ReadFile(r.out + "." + strconv.Itoa(r.count))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("the received mail does not parse: %v", err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if title != "" && subject != title {
		t.Errorf("subject %q", subject)
	}
	_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var zipped []byte
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if part.FileName() == "IHE_XDM.ZIP" {
			b, _ := io.ReadAll(part) // multipart decodes base64 only for quoted-printable; decode here
			zipped, err = decodeBase64Lines(b)
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if zipped == nil {
		t.Fatal("no IHE_XDM.ZIP attached")
	}
	return zipped
}

func decodeBase64Lines(b []byte) ([]byte, error) {
	s := strings.NewReplacer("\r", "", "\n", "").Replace(string(b))
	return base64Decode(s)
}

// A server that does not offer STARTTLS gets nothing: the document is not
// sent in clear.
func TestSMTPRefusesWithoutSTARTTLS(t *testing.T) {
	r := startSMTP(t, true)
	_, err := r.transport().Send(context.Background(), []byte("Subject: x\r\n\r\nx\r\n"))
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("err = %v, want a refusal naming STARTTLS", err)
	}
	if _, err := os.Stat(r.out + ".1"); err == nil {
		t.Error("the server received the message in clear")
	}
}
