package relais

import "context"

// Role is what a person does in the circuit; permissions follow from it.
type Role string

const (
	RolePrescriber Role = "prescriber"  // oncologist, paediatrician
	RolePharmacist Role = "pharmacist"  // validates, releases, keeps the register
	RoleTechnician Role = "technician"  // préparateur: compounds in the isolator
	RoleNurse      Role = "nurse"       // IDE: administers
	RolePharmAdmin Role = "pharm_admin" // pharmacy administrator: catalogue, protocols, users
	RoleITAdmin    Role = "it_admin"    // IT administrator: sites, interfaces, backups
	RoleConsultant Role = "consultant"  // regional consultant: read-only
	RoleSystem     Role = "system"      // Relais itself (migrations, demo loader, replication)
)

// Roles lists the human roles, in the order screens show them.
var Roles = []Role{RolePrescriber, RolePharmacist, RoleTechnician, RoleNurse, RolePharmAdmin, RoleITAdmin, RoleConsultant}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return r == RoleSystem
}

// Actor is who does something: every journal entry names one.
type Actor struct {
	UserID   ID     `json:"user_id"`
	Username string `json:"username"`
	Name     string `json:"name"` // display name, e.g. "Dr Claire Martin"
	Role     Role   `json:"role"`
	Site     string `json:"site"` // the site the actor works at
}

// DisplayName is the name documents and records show for the actor: the
// person's name, or the login when no name is known.
func (a Actor) DisplayName() string {
	if a.Name != "" {
		return a.Name
	}
	return a.Username
}

// SystemActor is the actor for work Relais does by itself.
func SystemActor(site string) Actor {
	return Actor{Username: "relais", Name: "Relais", Role: RoleSystem, Site: site}
}

type actorKey struct{}

// WithActor returns a context carrying the actor.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor in ctx, if any.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// Site is one hospital of the network; each runs its own Relais.
type Site struct {
	ID        string `json:"id"`                   // short stable code, e.g. "chu-bordeaux"
	Name      string `json:"name"`                 // e.g. "CHU de Bordeaux"
	Kind      string `json:"kind"`                 // "chu" (university) or "chg" (general)
	PublicKey string `json:"public_key,omitempty"` // ed25519, base64: verifies its journal checkpoints
}
