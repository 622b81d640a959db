// Package cmdutil holds what every verb's command shares: IO streams, exit
// codes, the output flags and the loaded configuration.
package cmdutil

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Exit codes. They are part of the interface: cron jobs and scripts read them.
const (
	ExitOK          = 0   // everything was gathered
	ExitFailure     = 1   // nothing could be gathered
	ExitUsage       = 2   // bad flags, arguments or configuration
	ExitPartial     = 3   // some targets or containers failed; output was still printed
	ExitCheck       = 4   // a --fail-if check fired; what fired was printed
	ExitInterrupted = 130 // SIGINT (Ctrl-C)
	ExitTerminated  = 143 // SIGTERM
)

// ExitError carries an exit code with the error that caused it. An
// ExitError with a nil Err has already been reported.
type ExitError struct {
	Code int
	Err  error
	// InConfig marks a mistake in the config file or environment, where
	// pointing at --help would not help.
	InConfig bool
	// Graceful marks the code of a verb that ends its work on a signal
	// on purpose (an agent that flushes and reports): it stands instead
	// of 130/143.
	Graceful bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// UsageError marks a mistake in flags, arguments or configuration (exit 2).
func UsageError(format string, a ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, a...)}
}

// ConfigError marks a mistake in the config file or environment (exit 2).
func ConfigError(format string, a ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, a...), InConfig: true}
}

// Failure marks an error after which nothing useful was printed (exit 1).
func Failure(err error) error { return &ExitError{Code: ExitFailure, Err: err} }

// Graceful marks err (nil: exit 0) as the answer of a verb that stopped
// gracefully on a signal: Main keeps its code instead of 130/143.
func Graceful(err error) error {
	if err == nil {
		return &ExitError{Code: ExitOK, Graceful: true}
	}
	var ee *ExitError
	if !errors.As(err, &ee) {
		return &ExitError{Code: ExitFailure, Err: err, Graceful: true}
	}
	c := *ee
	c.Graceful = true
	return &c
}

// Partial is returned after printing what could be gathered when some
// sources failed; their errors were already reported (exit 3).
var Partial = &ExitError{Code: ExitPartial}

// CheckFailed is returned when a --fail-if check fired; what fired was
// printed (exit 4).
var CheckFailed = &ExitError{Code: ExitCheck}

// Silent is returned when everything failed and each error was already
// reported (exit 1).
var Silent = &ExitError{Code: ExitFailure}

// SignalError is the cause of a context cancelled by a signal.
type SignalError struct{ Signal os.Signal }

func (e *SignalError) Error() string {
	if e.Signal == syscall.SIGTERM {
		return "terminated (SIGTERM)"
	}
	return "interrupted (SIGINT)"
}

// Code is the conventional 128+n exit status for the signal.
func (e *SignalError) Code() int {
	if e.Signal == syscall.SIGTERM {
		return ExitTerminated
	}
	return ExitInterrupted
}

// CodeOf maps an error to its exit code.
func CodeOf(err error) int {
	var se *SignalError
	var ee *ExitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &se):
		return se.Code()
	case errors.As(err, &ee):
		return ee.Code
	}
	return ExitFailure
}
