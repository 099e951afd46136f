package relais

// TreatmentService manages treatments, cycle prescriptions, OK-to-treat and
// pharmaceutical validation. (Filled in by the treatment-record work.)
type TreatmentService interface{}
