// Package pdfdoc owns Relais's printed documents: the compounding worksheet
// (fiche de fabrication), the preparation label at label-printer sizes, the
// delivery slip (bordereau de livraison) per ward and round, the
// administration plan per patient and day, the preparation register
// (ordonnancier) for a date range, and packs that put many of them into one
// PDF (the downtime pack of issue 9).
//
// It takes plain input structs of its own (WorksheetData, LabelData,
// SlipData, PlanData, RegisterData), never database types: the caller maps
// the domain to them. Every document carries a Stamp (data time, Relais
// version, pharmacy, language) printed in the footer of every page with the
// register number(s) shown on that page and "page i/n".
//
// Rules the package keeps, for patient safety:
//
//   - Doses, volumes, concentrations, rates and durations are strings given by
//     the caller with their unit, already rounded by the documented clinical
//     rules; they are printed byte for byte, never parsed, reformatted,
//     rounded or truncated. Register numbers and identifiers likewise.
//   - Text is never cut silently: it wraps; on a label that has no room for a
//     mention the document is refused with an error naming the mention
//     (ErrDoesNotFit), never printed without it.
//   - Text outside the fonts' character set (Windows-1252) is either
//     substituted by a documented rule (≥ becomes ">=", ł becomes l, …) or
//     refused with an error naming the field; never replaced by a dot.
//   - The same input gives the same bytes: the PDF dates come from the
//     Stamp's data time, resources are sorted, and nothing random is written.
//
// docs/documents.md describes each document, its mentions and sizes.
package pdfdoc
