package relais

// ProtocolService manages the protocol library and its versions.
// (Filled in by the treatment-record work.)
type ProtocolService interface{}
