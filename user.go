package relais

import (
	"context"
	"time"
)

// User is an account at a site.
type User struct {
	ID        ID        `json:"id"`
	Site      string    `json:"site"`
	Username  string    `json:"username"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

// Actor returns the user as an actor.
func (u User) Actor() Actor {
	return Actor{UserID: u.ID, Username: u.Username, Name: u.Name, Role: u.Role, Site: u.Site}
}

// UserService manages accounts.
type UserService interface {
	CreateUser(ctx context.Context, u User, password string) (User, error)
	// Authenticate returns the user when username and password match an
	// enabled account; the error never says which of the two was wrong.
	Authenticate(ctx context.Context, username, password string) (User, error)
	UserByID(ctx context.Context, id ID) (User, error)
	Users(ctx context.Context) ([]User, error)
}
