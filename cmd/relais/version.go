package main

import (
	"context"
	"fmt"
	"io"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/sqlstore"
)

func init() {
	register("version", "print the program, schema and API versions", func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		fs := newFlags("version", stderr)
		if err := fs.Parse(args); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "relais %s\nschema %d\napi %s\n", relais.Version, sqlstore.SchemaVersion(), relais.APIVersion)
		return nil
	})
}
