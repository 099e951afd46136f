package outbox

import "testing"

// Helpers for the worker's tests (package outbox_test, which can use
// sqlstore): the real SMTP server and the readers of what it received.

// StartTestSMTP starts the SMTP server of smtp_test.go (STARTTLS, PLAIN
// authentication) and returns a transport to it and a function that
// returns the IHE_XDM.ZIP of the next mail it received, after checking the
// envelope.
func StartTestSMTP(t *testing.T) (*SMTPTransport, func(t *testing.T, d Destination, title string) []byte) {
	r := startSMTP(t, false)
	return r.transport(), r.received
}

// ReadXDM reads an IHE_XDM.ZIP as readXDM does: the file, its mime type
// and format code.
func ReadXDM(t *testing.T, zipped []byte) (file []byte, mimeType, formatCode string) {
	file, mimeType, formatCode, _ = readXDM(t, zipped)
	return
}

// PDFText is the text of a PDF as pdftotext reads it, spaces collapsed.
func PDFText(t *testing.T, pdf []byte) string { return pdfText(t, pdf) }

// XMLLintWellFormed has xmllint check the XML when it is installed.
func XMLLintWellFormed(t *testing.T, doc []byte) { xmllintWellFormed(t, doc) }
