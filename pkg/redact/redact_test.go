package redact

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:9100/metrics":                "http://127.0.0.1:9100/metrics",
		"http://user:S3CRET@127.0.0.1:9100/metrics":    "http://user:xxxxx@127.0.0.1:9100/metrics",
		"http://user@127.0.0.1/":                       "http://user@127.0.0.1/",
		"http://user:S3CRET@[::1/w":                    "http://xxxxx@[::1/w",
		"http://user:S3CRET@h/x%zz":                    "http://xxxxx@h/x%zz",
		"http://user:S3/C@RET@h/x%zz":                  "http://xxxxx@h/x%zz",
		"http://h:8086/write?db=x&u=me&p=S3CRET":       "http://h:8086/write?db=x&p=xxxxx&u=me",
		"http://h:8086/write?db=x&p=S3CRET%zz":         "http://h:8086/write?xxxxx",
		"http://h:8086/%zz?p=S3CRET":                   "http://h:8086/%zz?xxxxx",
		"tcp://u:S3CRET@127.0.0.1:1":                   "tcp://u:xxxxx@127.0.0.1:1",
		"ssh://u:S3CRET@host":                          "ssh://u:xxxxx@host",
		"/probe?target=example.org&module=http_2xx":    "/probe?target=example.org&module=http_2xx",
		"http://h/probe?target=a.example&token=S3CRET": "http://h/probe?target=a.example&token=xxxxx",
		"unix:///var/run/docker.sock":                  "unix:///var/run/docker.sock",
	} {
		if got := URL(in); got != want || strings.Contains(got, "S3") {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIn(t *testing.T) {
	for _, raw := range []string{"http://u:S3CRET@[::1/w", "tcp://u:S3CRET@127.0.0.1:1", "http://h/w?p=S3CRET", "http://u:S3%2FCRET@h/"} {
		msg := "cannot reach " + raw + `: parse "` + raw + `": invalid; S3/CRET`
		if got := In(msg, raw); strings.Contains(got, "S3CRET") || strings.Contains(got, "S3%2FCRET") || strings.Contains(got, "S3/CRET") && strings.Contains(raw, "%2F") {
			t.Errorf("In(%q) = %q", raw, got)
		}
	}
}
