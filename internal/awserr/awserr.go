// Package awserr says what a person can do about the AWS errors this
// project's functions meet most. It depends only on smithy-go, so a function
// that imports it pulls in no other service's client.
package awserr

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
)

// Explain adds what a person can do about common failures.
func Explain(err error) error {
	var api smithy.APIError
	if Denied(err) && errors.As(err, &api) {
		return fmt.Errorf("access denied (%s): the function's role lacks a permission its construct grants; check that no permissions boundary or SCP removes it: %w", api.ErrorMessage(), err)
	}
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "ThrottlingException", "Throttling", "TooManyUpdates", "TooManyRequestsException":
			return fmt.Errorf("still throttled after retries: try again later: %w", err)
		}
	}
	return err
}

// Denied reports whether AWS refused the call for want of a permission.
func Denied(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "AccessDeniedException", "AccessDenied", "UnauthorizedOperation":
		return true
	}
	return false
}
