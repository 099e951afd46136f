package relais

// CatalogueService manages drugs, products, diluents and stability data.
// (Filled in by the treatment-record work.)
type CatalogueService interface{}
