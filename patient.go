package relais

// PatientService manages patients, their measurements and notes.
// (Filled in by the treatment-record work.)
type PatientService interface{}
