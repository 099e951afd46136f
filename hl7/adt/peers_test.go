package adt_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/nodepeer"
	"github.com/relais-onco/relais/internal/testdb"
)

// Peers that no one here wrote send ADT messages to the listener.

// mllp_send is the MLLP client of python-hl7 (Debian's python3-hl7). It
// sends a file of messages, here in 8859/1 as French EHRs do, and prints
// each acknowledgement.
func TestPeerPythonMLLPSend(t *testing.T) {
	bin, err := exec.LookPath("mllp_send")
	if err != nil {
		t.Skip("mllp_send is not installed (apt-get install python3-hl7)")
	}
	r := newRig(t, testdb.SQLite(t))
	msgs := adtMsg("A28", "PY1", pidOf(map[int]string{3: "6001^^^CHG^PI~" + publishedNIR + insRep,
		5: "LEFÈVRE^Hélène^^^^^L", 7: "20061214", 8: "F", 32: "QUAL"})) +
		adtMsg("A08", "PY2", pidOf(map[int]string{3: "6001^^^CHG^PI~" + publishedNIR + insRep,
			5: "LEFÈVRE^Hélène^^^^^L~BÉRANGER^Hélène^^^^^D", 7: "20061214", 8: "F", 32: "QUAL"}))
	msgs = strings.ReplaceAll(msgs, "UNICODE UTF-8", "8859/1")
	var latin1 []byte
	for _, c := range msgs {
		latin1 = append(latin1, byte(c)) // every character here is in 8859/1
	}
	f := filepath.Join(t.TempDir(), "adt.hl7")
	if err := os.WriteFile(f, []byte(strings.ReplaceAll(string(latin1), "\r", "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(r.addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--loose", "--file", f, "--port", port, "127.0.0.1").CombinedOutput()
	if err != nil {
		t.Fatalf("mllp_send: %v\n%s", err, out)
	}
	for _, id := range []string{"PY1", "PY2"} {
		if !strings.Contains(string(out), "MSA|AA|"+id) {
			t.Errorf("no AA for %s in mllp_send's output:\n%s", id, out)
		}
	}
	p := onlyPatient(t, r, "6001")
	if p.BirthName != "LEFÈVRE" || p.UsedName != "BÉRANGER" || p.FirstNames[0] != "Hélène" || p.INS.Status != relais.IdentityQualified {
		t.Errorf("patient from python-hl7 = %+v", p)
	}
}

// simple-hl7 (npm) builds the message with its own API and sends it over
// its MLLP client.
func TestPeerNodeSimpleHL7(t *testing.T) {
	nodepeer.Dir(t)
	r := newRig(t, testdb.SQLite(t))
	_, port, _ := strings.Cut(r.addr, ":")
	script := `
const hl7 = require('simple-hl7');
const [port, nir] = process.argv.slice(2);
const msg = new hl7.Message('DPI', 'CHG', 'RELAIS', 'CHU', '20250314083000', '', ['ADT', 'A28', 'ADT_A05'], 'JS1', 'P', '2.5', '', '', '', '', 'FRA', 'UNICODE UTF-8');
msg.addSegment('EVN', '', '20250314083000');
const pid = msg.addSegment('PID');
const fields = [];
for (let i = 0; i < 32; i++) fields.push('');
fields[2] = new hl7.Field(['5001', '', '', 'CHG', 'PI'], [nir, '', '', 'ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO', 'INS']);
fields[4] = new hl7.Field(['GARÇON', 'Chloé', '', '', '', '', 'L']);
fields[6] = '20061214';
fields[7] = 'F';
fields[31] = 'QUAL';
for (const f of fields) pid.addField(f);
console.error(msg.log());
const client = hl7.Server.createTcpClient({ host: '127.0.0.1', port: Number(port) });
client.send(msg, (err, ack) => {
  if (err) { console.error(err); process.exit(1); }
  console.log(ack.log());
  process.exit(0);
});
setTimeout(() => { console.error('no ACK'); process.exit(2); }, 20000);
`
	out := nodepeer.Run(t, script, port, publishedNIR)
	if !strings.Contains(out, "MSA|AA|JS1") {
		t.Fatalf("no AA from Relais to simple-hl7:\n%s", out)
	}
	p := onlyPatient(t, r, "5001")
	if p.BirthName != "GARÇON" || p.FirstNames[0] != "Chloé" || p.INS.Matricule != publishedNIR {
		t.Errorf("patient from simple-hl7 = %+v", p)
	}
	_ = strconv.Itoa
}
