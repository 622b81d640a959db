package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/monctl/monctl/internal/cli/cmdtest"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/pkg/containers"
)

func execute(t *testing.T, f *cmdutil.Factory, args ...string) (string, string, int) {
	t.Helper()
	out, errOut := f.IO.Out.(*bytes.Buffer), f.IO.ErrOut.(*bytes.Buffer)
	err := cmdtest.Execute(NewCmd(f), args...)
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), cmdutil.CodeOf(err)
}

func factory(asked *[]string) *cmdutil.Factory {
	f := cmdutil.NewFactory(cmdutil.IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
	f.Engines = func(_ context.Context, hosts []string, _ string, _ int) ([]*containers.Engine, []error) {
		*asked = append([]string{}, hosts...)
		return nil, []error{errors.New("engine down")}
	}
	return f
}

func TestFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "in.prom")
	os.WriteFile(file, []byte("up 1\n"), 0o600)
	rw := []string{"--queue-dir", "", "--remote-write", "http://127.0.0.1:1/api/v1/write"}
	for _, c := range []struct {
		args  []string
		code  int
		want  string
		hosts []string
	}{
		{[]string{file}, cmdutil.ExitUsage, "push where?", nil},
		{rw, cmdutil.ExitUsage, "push what?", nil},
		{[]string{"--pushgateway", "ftp://x", file}, cmdutil.ExitUsage, "--pushgateway: pushgateway URL", nil},
		{[]string{"--pushgateway", "http://x", "--grouping", "nokey", file}, cmdutil.ExitUsage, `--grouping "nokey"`, nil},
		{append([]string{"--grouping", "a=b", file}, rw...), cmdutil.ExitUsage, "--grouping goes with --pushgateway", nil},
		{[]string{"--pushgateway", "http://x", "--method", "get", file}, cmdutil.ExitUsage, `method "GET"`, nil},
		{[]string{"--influx", "http://x/write?db=a&precision=s", file}, cmdutil.ExitUsage, "precision=s", nil},
		{append([]string{"--every", "10ms", file}, rw...), cmdutil.ExitUsage, "too short", nil},
		{append([]string{"--every", "1", "-"}, rw...), cmdutil.ExitUsage, "standard input can be read only once", nil},
		{append([]string{"--queue-size", "lots", file}, rw...), cmdutil.ExitUsage, "--queue-size", nil},
		{[]string{"--queue-size", "0", "--remote-write", "http://127.0.0.1:1/api/v1/write", file}, cmdutil.ExitUsage, "--queue-size 0 would keep every batch", nil},
		{append([]string{"-o", "prom", file}, rw...), cmdutil.ExitUsage, `output format "prom" is not available here`, nil},
		// -H is --host and implies the containers.
		{append([]string{"-H", "tcp://a:2375"}, rw...), cmdutil.ExitFailure, "engine down", []string{"tcp://a:2375"}},
	} {
		var asked []string
		_, errOut, code := execute(t, factory(&asked), c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want exit %d about %s", c.args, code, errOut, c.code, c.want)
		}
		if c.hosts != nil && !slices.Equal(asked, c.hosts) {
			t.Errorf("%v: asked engines %q, want %q", c.args, asked, c.hosts)
		}
	}
}

// TestPushFromStdin: an exposition on stdin reaches a remote-write
// receiver, and -o json reports it.
func TestPushFromStdin(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Encoding") != "snappy" || r.Header.Get("X-Prometheus-Remote-Write-Version") != "0.1.0" {
			http.Error(w, "not remote write", http.StatusBadRequest)
			return
		}
		got.Add(int64(len(b)))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	var asked []string
	f := factory(&asked)
	f.IO.In = strings.NewReader("# TYPE a_total counter\na_total{x=\"1\"} 3\nb 2\n")
	out, errOut, code := execute(t, f, "--queue-dir", t.TempDir(), "--remote-write", srv.URL+"/api/v1/write", "-o", "json", "-")
	if code != 0 || got.Load() == 0 {
		t.Fatalf("exit %d, %d bytes taken: %s", code, got.Load(), errOut)
	}
	var st []struct {
		Sink string `json:"sink"`
		Sent int    `json:"sent_samples"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st) != 1 || st[0].Sent != 2 || !strings.HasPrefix(st[0].Sink, "remote-write http://127.0.0.1:") {
		t.Errorf("report %q (%v)", out, err)
	}
	if !strings.Contains(errOut, "sent 2 samples in 1 requests") {
		t.Errorf("the stderr summary: %q", errOut)
	}
	if asked != nil {
		t.Error("no engine is asked without --containers or -H")
	}
}
