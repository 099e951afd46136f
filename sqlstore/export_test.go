package sqlstore_test

import "github.com/relais-onco/relais/journal"

func newVerifier(site string) *journal.Verifier { return &journal.Verifier{Site: site} }
