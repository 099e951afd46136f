package relais

// ProductionService runs the pharmacy chain after validation: preparations,
// leftover vials, the preparation register, release, dispensing,
// administration and billing. (Filled in by the production work.)
type ProductionService interface{}
