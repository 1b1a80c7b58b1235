package contract

import (
	"log/slog"
	"time"
)

// Current is the secret's value: the activation nodes join with now.
type Current struct {
	ActivationID   string    `json:"activationId"`
	ActivationCode string    `json:"activationCode"`
	ExpirationDate time.Time `json:"expirationDate"`
	// Previous are earlier activations of the site, newest first; each was
	// deleted when it was replaced (or expires on its own if that failed).
	Previous []string `json:"previousActivationIds,omitempty"`
	// Version is the secret version the record was read from ("" when the
	// secret had no value): Replace writes only if it is still current.
	Version string `json:"-"`
}

// LogValue keeps the code out of every log line.
func (c Current) LogValue() slog.Value {
	return slog.GroupValue(slog.String("activationId", c.ActivationID), slog.String("expirationDate", c.ExpirationDate.Format(time.RFC3339)))
}
