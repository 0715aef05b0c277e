package presenters

import "time"

// User is a Cloud Controller user. Username and Origin are null for a
// client or a user the UAA does not know.
type User struct {
	GUID             string   `json:"guid"`
	CreatedAt        string   `json:"created_at"`
	UpdatedAt        string   `json:"updated_at"`
	Username         *string  `json:"username"`
	PresentationName string   `json:"presentation_name"`
	Origin           *string  `json:"origin"`
	Metadata         Metadata `json:"metadata"`
	Links            Links    `json:"links"`
}

// User renders a user; username and origin are "" when unknown.
func (p Presenter) User(guid string, created, updated time.Time, username, origin string) *User {
	u := &User{GUID: guid, CreatedAt: Time(created), UpdatedAt: Time(updated), PresentationName: guid,
		Metadata: emptyMetadata(), Links: Links{"self": p.link("/v3/users/" + guid)}}
	if username != "" {
		u.Username, u.Origin, u.PresentationName = &username, &origin, username
	}
	return u
}
