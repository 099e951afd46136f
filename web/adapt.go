package web

import (
	"context"
	"net/http"

	"github.com/relais-onco/relais"
)

// Adapters from service methods to APIFunc, so a route reads as what it
// does: byID(s.Treatments.Prescription), idBody(s.Treatments.Postpone).

// byID adapts a method taking the {id} path value.
func byID[Out any](f func(context.Context, relais.ID) (Out, error)) APIFunc {
	return func(r *http.Request) (any, error) {
		id, err := PathID(r, "id")
		if err != nil {
			return nil, err
		}
		return f(r.Context(), id)
	}
}

// body adapts a method taking a decoded request body.
func body[In, Out any](f func(context.Context, In) (Out, error)) APIFunc {
	return func(r *http.Request) (any, error) {
		var in In
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		return f(r.Context(), in)
	}
}

// idBody adapts a method taking the {id} path value and a decoded body.
func idBody[In, Out any](f func(context.Context, relais.ID, In) (Out, error)) APIFunc {
	return func(r *http.Request) (any, error) {
		id, err := PathID(r, "id")
		if err != nil {
			return nil, err
		}
		var in In
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		return f(r.Context(), id, in)
	}
}

// idLineBody adapts a method taking the {id} and {line} path values and a
// decoded body.
func idLineBody[In, Out any](f func(context.Context, relais.ID, relais.ID, In) (Out, error)) APIFunc {
	return func(r *http.Request) (any, error) {
		id, err := PathID(r, "id")
		if err != nil {
			return nil, err
		}
		line, err := PathID(r, "line")
		if err != nil {
			return nil, err
		}
		var in In
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		return f(r.Context(), id, line, in)
	}
}

// reason adapts a method taking the {id} path value and a reason.
func reason[Out any](f func(context.Context, relais.ID, string) (Out, error)) APIFunc {
	return idBody(func(ctx context.Context, id relais.ID, in relais.ReasonRequest) (Out, error) {
		return f(ctx, id, in.Reason)
	})
}

// patientRead adapts a method taking a patient's {id}: the read is checked
// against the actor's scope and logged (access.go) before the data is read.
func patientRead[Out any](s *Server, f func(context.Context, relais.ID) (Out, error)) APIFunc {
	return func(r *http.Request) (any, error) {
		id, err := PathID(r, "id")
		if err != nil {
			return nil, err
		}
		if err := s.recordAccess(r, id); err != nil {
			return nil, err
		}
		return f(r.Context(), id)
	}
}

// readOf adapts a method reading something of a patient by its {id}: once
// read, the read of its patient is checked and logged (access.go) before
// answering.
func readOf[Out any](s *Server, f func(context.Context, relais.ID) (Out, error), patient func(Out) relais.ID) APIFunc {
	return func(r *http.Request) (any, error) {
		id, err := PathID(r, "id")
		if err != nil {
			return nil, err
		}
		out, err := f(r.Context(), id)
		if err != nil {
			return nil, err
		}
		return out, s.recordAccess(r, patient(out))
	}
}
