// Package relais is the domain of the chemotherapy circuit: the types of the
// treatment record and the pharmacy chain, their states and transitions, the
// service interfaces the adapters implement, and the error type every layer
// speaks. It holds no SQL, no HTTP and no PDF: those live in the packages named
// for the technology they wrap (sqlstore, web, pdfdoc, …), and only cmd/relais
// wires them together.
package relais

// Version is the program version, set at build time with
// -ldflags "-X github.com/relais-onco/relais.Version=…".
var Version = "0.1.0-dev"

// APIVersion is the version of the JSON API under /api/v1. Clients send theirs
// and the server refuses the ones it does not support (seed 004: an old client
// brought the server down).
const APIVersion = "1.0"
