package pdfdoc

import (
	"fmt"
	"time"
)

// The fixtures are what a caller would pass. pdfdoc prints quantities as
// given and computes nothing, and no test asserts a clinical value; the
// figures still follow published sources so that the sample documents are
// credible:
//   - BSA 0,74 m² for 18,2 kg and 108 cm by Mosteller's formula,
//     √(108 × 18,2 / 3600) = 0,739 m² (Mosteller RD, Simplified calculation
//     of body-surface area, N Engl J Med 1987;317:1098);
//   - vincristine 1,5 mg/m², the low end of the usual paediatric dose of
//     1.5 to 2 mg/m² (Vincristine Sulfate Injection USP, Hospira, US
//     prescribing information, Dosage and Administration), so
//     1,5 × 0,74 = 1,11 mg, from a 1 mg/mL solution: 1,11 mL.

var paris = func() *time.Location {
	l, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	return l
}()

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, paris)
	if err != nil {
		panic(err)
	}
	return t
}

func testStamp() Stamp {
	return Stamp{
		DataTime: at("2026-11-22 14:05"),
		Version:  "0.1.0",
		Pharmacy: Pharmacy{
			Name:    "PUI – CHU de Rennes, Unité de reconstitution des cytotoxiques",
			Address: "2 rue Henri Le Guilloux\n35033 Rennes Cedex 9",
			Phone:   "02 99 28 43 21",
		},
	}
}

func testPatient() Patient {
	return Patient{
		BirthName: "LE GOFF",
		UsedName:  "MARTIN",
		FirstName: "Maëlys",
		BirthDate: "2019-03-14",
		LocalID:   "IPP-00482913",
		INS:       "2190335238123 45",
	}
}

const testPrepID = "0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b"

func testWorksheet() WorksheetData {
	return WorksheetData{
		Stamp:              testStamp(),
		PreparationID:      testPrepID,
		RegisterNumber:     "2026-000123",
		Patient:            testPatient(),
		Weight:             "18,2 kg",
		Height:             "108 cm",
		BSA:                "0,74 m² (Mosteller)",
		MeasuredOn:         "2026-11-21",
		Protocol:           "VINCRISTINE hebdomadaire v3",
		Cycle:              "Cure 2",
		Day:                "J8",
		Prescriber:         "Dr Anne Kerjean",
		AdministrationDate: "2026-11-23",
		ValidatedBy:        "Dr Yann Morvan, pharmacien",
		ValidatedAt:        at("2026-11-22 11:40"),
		INN:                "VINCRISTINE",
		Dose:               "1,11 mg",
		Derivation:         "1,5 mg/m² × 0,74 m² = 1,11 mg (arrondi au centième de mg)\nplafond 2 mg : non atteint",
		Brand:              "Vincristine Hospira 1 mg/mL",
		UCD:                "3400893528742",
		Vials: []Vial{
			{Leftover: true, Presentation: "2 mg / 2 mL", Lot: "HX2291", LotExpiry: "2027-05-31",
				UseBefore: at("2026-11-29 09:00"), Quantity: "0,60 mg", Volume: "0,60 mL"},
			{Presentation: "1 mg / 1 mL", Lot: "HX2304", LotExpiry: "2027-08-31", Quantity: "0,51 mg", Volume: "0,51 mL"},
		},
		Diluent:            "NaCl 0,9 %",
		Container:          "seringue 20 mL",
		ContainerVolume:    "20 mL",
		FinalVolume:        "11,11 mL",
		FinalConcentration: "0,1 mg/mL",
		Route:              "IV stricte",
		Storage:            "À conserver entre 2 et 8 °C, à l'abri de la lumière",
		Expiry:             at("2026-11-24 12:00"),
		Cytotoxic:          true,
		Steps: []string{
			"Vérifier l'identité du patient, la DCI, la dose et le volume sur la fiche",
			"Prélever 0,60 mL du reliquat lot HX2291",
			"Prélever 0,51 mL du flacon neuf lot HX2304",
			"Compléter à 11,11 mL avec NaCl 0,9 % dans la seringue",
			"Étiqueter : « Voie intraveineuse stricte – mortel par une autre voie »",
		},
	}
}

func testLabel() LabelData {
	return LabelData{
		Stamp:              testStamp(),
		PreparationID:      testPrepID,
		RegisterNumber:     "2026-000123",
		Category:           CategoryMagistral,
		Cytotoxic:          true,
		Patient:            testPatient(),
		INN:                "VINCRISTINE",
		Dose:               "1,11 mg",
		TotalVolume:        "11,11 mL",
		Vehicle:            "NaCl 0,9 %",
		Route:              "IV stricte",
		AdministrationDate: "2026-11-23",
		PreparedAt:         at("2026-11-22 15:32"),
		Expiry:             at("2026-11-24 12:00"),
		Storage:            "À conserver entre 2 et 8 °C, à l'abri de la lumière",
	}
}

func testSlip(n int) SlipData {
	d := SlipData{
		Stamp:     testStamp(),
		Number:    "BL-2026-0412",
		Ward:      "Hématologie-oncologie pédiatrique (HDJ)",
		RoundDate: "2026-11-23",
		Round:     RoundMorning,
	}
	for i := 0; i < n; i++ {
		p := testPatient()
		p.LocalID = fmt.Sprintf("IPP-%08d", 482913+i)
		d.Items = append(d.Items, SlipItem{
			RegisterNumber: fmt.Sprintf("2026-%06d", 123+i),
			Patient:        p,
			INN:            "VINCRISTINE",
			Dose:           "1,11 mg",
			Volume:         "11,11 mL",
			Route:          "IV",
		})
	}
	return d
}

func testPlan() PlanData {
	return PlanData{
		Stamp:    testStamp(),
		Patient:  testPatient(),
		Day:      "2026-11-23",
		Ward:     "Hématologie-oncologie pédiatrique (HDJ)",
		Protocol: "VINCRISTINE hebdomadaire v3",
		Cycle:    "Cure 2 · J8",
		Weight:   "18,2 kg",
		BSA:      "0,74 m²",
		Items: []PlanItem{
			{Time: at("2026-11-23 08:30"), Kind: KindHydration, Drug: "Glucose 5 % + NaCl 0,45 %", Dose: "500 mL",
				Route: "IV", Rate: "55 mL/h", Duration: "9 h"},
			{Time: at("2026-11-23 09:00"), Kind: KindPremedication, Drug: "ONDANSÉTRON", Dose: "3,7 mg",
				Vehicle: "NaCl 0,9 % 20 mL", Route: "IV", Rate: "80 mL/h", Duration: "15 min"},
			{Time: at("2026-11-23 09:30"), Kind: KindChemotherapy, Drug: "VINCRISTINE", Dose: "1,11 mg",
				Vehicle: "NaCl 0,9 % 11,11 mL", Route: "IV stricte", Duration: "5 min", RegisterNumber: "2026-000123",
				Note: "Vérifier le reflux veineux avant et pendant l'injection"},
		},
	}
}

func testRegister() RegisterData {
	d := RegisterData{Stamp: testStamp(), From: "2026-11-22", To: "2026-11-22"}
	statuses := []EntryStatus{StatusReleased, StatusReleased, StatusCancelled, StatusRejected, StatusInProgress}
	for i := 0; i < 5; i++ {
		e := RegisterEntry{
			Number:  fmt.Sprintf("2026-%06d", 123+i),
			Date:    at("2026-11-22 08:00").Add(time.Duration(i) * 20 * time.Minute),
			Patient: testPatient(),
			INN:     "VINCRISTINE",
			Dose:    "1,11 mg",
			Status:  statuses[i],
		}
		if e.Status == StatusCancelled {
			e.Annotations = []Annotation{{At: at("2026-11-22 09:10"), By: "Dr Yann Morvan",
				Text: "Annulée : cure reportée (neutropénie), fiche détruite"}}
		}
		d.Entries = append(d.Entries, e)
	}
	return d
}
