package cmdutil

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/monctl/monctl/pkg/exposition"
)

// LimitFlags are Prometheus' per-target scrape limits as flags, shared by
// the verbs that scrape. A config file's target may set its own
// (sample_limit: ... beside url:), which win over these.
type LimitFlags struct {
	BodySizeLimit         string
	SampleLimit           int
	LabelLimit            int
	LabelNameLengthLimit  int
	LabelValueLengthLimit int
	BucketLimit           int
}

// AddLimitFlags registers the limit flags on cmd.
func (l *LimitFlags) AddLimitFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&l.BodySizeLimit, "body-size-limit", "64MiB", "fail a target whose body is larger than this, uncompressed (Prometheus' body_size_limit)")
	fl.IntVar(&l.SampleLimit, "sample-limit", 0, "fail a target that exposes more samples than this (0: no limit)")
	fl.IntVar(&l.LabelLimit, "label-limit", 0, "fail a target with a sample of more labels than this, __name__ included (0: no limit)")
	fl.IntVar(&l.LabelNameLengthLimit, "label-name-length-limit", 0, "fail a target with a label name longer than this many bytes (0: no limit)")
	fl.IntVar(&l.LabelValueLengthLimit, "label-value-length-limit", 0, "fail a target with a label value longer than this many bytes (0: no limit)")
	fl.IntVar(&l.BucketLimit, "bucket-limit", 0, "fail a target with a histogram of more buckets than this (0: no limit)")
}

// Resolve checks the flags and returns the limits and the body size limit.
func (l *LimitFlags) Resolve() (exposition.Limits, int64, error) {
	size, err := exposition.ParseByteSize(l.BodySizeLimit)
	if err != nil {
		return exposition.Limits{}, 0, UsageError("--body-size-limit: %v", err)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"sample-limit", l.SampleLimit}, {"label-limit", l.LabelLimit}, {"label-name-length-limit", l.LabelNameLengthLimit},
		{"label-value-length-limit", l.LabelValueLengthLimit}, {"bucket-limit", l.BucketLimit}} {
		if f.v < 0 {
			return exposition.Limits{}, 0, UsageError("--%s must be 0 (no limit) or more, got %d", f.name, f.v)
		}
	}
	return exposition.Limits{Samples: l.SampleLimit, Labels: l.LabelLimit, LabelNameLength: l.LabelNameLengthLimit,
		LabelValueLength: l.LabelValueLengthLimit, Buckets: l.BucketLimit}, int64(size), nil
}

// CheckCredentialFiles fails with a usage error when a file that a
// target's http_config names cannot be read: a missing bearer token is a
// mistake to report before any work, not a target that is down.
func CheckCredentialFiles(t *exposition.Target) error {
	h := &t.HTTP
	// In the order http_config lists them, so that the first missing one
	// is always the one named.
	files := [][2]string{{"bearer_token_file", h.BearerTokenFile}}
	if h.Authorization != nil {
		// Validate moves bearer_token_file here.
		files = append(files, [2]string{"bearer_token_file (authorization credentials_file)", h.Authorization.CredentialsFile})
	}
	if h.BasicAuth != nil {
		files = append(files, [2]string{"basic_auth username_file", h.BasicAuth.UsernameFile}, [2]string{"basic_auth password_file", h.BasicAuth.PasswordFile})
	}
	files = append(files, [2]string{"ca_file", h.TLSConfig.CAFile}, [2]string{"cert_file", h.TLSConfig.CertFile}, [2]string{"key_file", h.TLSConfig.KeyFile})
	for _, file := range files {
		what, path := file[0], file[1]
		if path == "" {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return UsageError("%s: %s %s: %v", t.DisplayName(), what, path, err)
		}
		f.Close()
	}
	return nil
}
