package relais

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

type leafErr struct{ f, m string }

func (e *leafErr) Error() string                         { return e.f + ": " + e.m }
func (e *leafErr) InvalidField() (field, message string) { return e.f, e.m }

func TestErrorKindAndFields(t *testing.T) {
	err := E("patient.create", KindInvalid, Field("birth_date"), "birth date is in the future")
	if ErrorKind(err) != KindInvalid {
		t.Fatalf("kind = %v", ErrorKind(err))
	}
	fe := FieldErrors(err)
	if len(fe) != 1 || fe[0].Field != "birth_date" {
		t.Fatalf("fields = %+v", fe)
	}
	wrapped := fmt.Errorf("context: %w", E("x.op", err))
	if ErrorKind(wrapped) != KindInvalid || ErrorMessage(wrapped) != "birth date is in the future" {
		t.Fatalf("wrapped: kind %v message %q", ErrorKind(wrapped), ErrorMessage(wrapped))
	}
	joined := Errors("import", []error{Invalid("import", "lines[0].route", "unknown route"), Invalid("import", "code", "required")})
	if got := FieldErrors(joined); len(got) != 2 || got[1].Field != "code" {
		t.Fatalf("joined fields = %+v", got)
	}
	if Errors("x", nil) != nil {
		t.Fatal("no errors should give nil")
	}
}

func TestLeafPackageFieldErrors(t *testing.T) {
	err := E("calc", &leafErr{"height_cm", "height 0 cm is impossible"})
	if ErrorKind(err) != KindInvalid {
		t.Fatalf("kind = %v", ErrorKind(err))
	}
	fe := FieldErrors(err)
	if len(fe) != 1 || fe[0].Field != "height_cm" || ErrorMessage(err) != "height 0 cm is impossible" {
		t.Fatalf("fields = %+v, message %q", fe, ErrorMessage(err))
	}
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	err := E("db.write", errors.New("pq: relation secret_table does not exist"))
	if ErrorMessage(err) != "internal error" || ErrorKind(err) != KindOther {
		t.Fatalf("message %q kind %v", ErrorMessage(err), ErrorKind(err))
	}
}

func TestNewIDIsUUIDv7AndOrdered(t *testing.T) {
	prev := NewID()
	for i := 0; i < 10000; i++ {
		id := NewID()
		if _, err := ParseID("id", string(id)); err != nil {
			t.Fatal(err)
		}
		if id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("%s is not a v7 UUID with the RFC 9562 variant", id)
		}
		if id <= prev {
			t.Fatalf("%s does not sort after %s", id, prev)
		}
		prev = id
	}
	if d := prev.Time(); d.IsZero() || Now().Sub(d) > 60e9 {
		t.Fatalf("time of id = %v", d)
	}
}

func TestParseIDRefusesGarbage(t *testing.T) {
	for _, s := range []string{"", "x", "0190f5e2-7c3a-7b4e-9a1d-2f6c8e0b1a2", "0190F5E2-7C3A-7B4E-9A1D-2F6C8E0B1A23", "../../etc/passwd-aaaaaaaaaaaaaaaaaaaa", "0190f5e2-7c3a-7b4e-9a1d-2f6c8e0b1a2'"} {
		if _, err := ParseID("patient_id", s); err == nil || ErrorKind(err) != KindInvalid || FieldErrors(err)[0].Field != "patient_id" {
			t.Errorf("ParseID(%q) = %v", s, err)
		}
	}
}

func TestTransitions(t *testing.T) {
	cases := []struct {
		ok   bool
		from any
		to   any
	}{
		{true, TreatmentPlanned, TreatmentActive},
		{false, TreatmentCompleted, TreatmentActive},
		{false, TreatmentStopped, TreatmentPlanned},
		{true, PrescriptionDraft, PrescriptionSigned},
		{false, PrescriptionCancelled, PrescriptionDraft},
		{false, PrescriptionSigned, PrescriptionDraft},
		{true, LineRefused, LineProposed},
		{false, LineValidated, LineRefused},
		{false, LineCancelled, LineProposed},
	}
	for _, c := range cases {
		var got bool
		switch f := c.from.(type) {
		case TreatmentStatus:
			got = f.CanMove(c.to.(TreatmentStatus))
		case PrescriptionStatus:
			got = f.CanMove(c.to.(PrescriptionStatus))
		case LineStatus:
			got = f.CanMove(c.to.(LineStatus))
		}
		if got != c.ok {
			t.Errorf("%v → %v: allowed = %v, want %v", c.from, c.to, got, c.ok)
		}
	}
}
