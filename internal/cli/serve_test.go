package cli

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeStartErrors checks that serve refuses to start, with the cause
// and the documented exit code, before it listens.
func TestServeStartErrors(t *testing.T) {
	isolateConfig(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "node.prom")
	os.WriteFile(file, []byte("up 1\n"), 0o600)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	base := []string{"serve", "--containers=false", "--target", file, "--web.listen-address", "127.0.0.1:0"}

	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"config section with dotted keys", nil, []string{"--config", write("c.yaml", "serve:\n  web.max-requests: -1\n")}, 2, "--web.max-requests must be 0 or more"},
		{"unknown key in the section", nil, []string{"--config", write("u.yaml", "serve:\n  web.listen-adress: x\n")}, 2, `line 2: serve has no setting "web.listen-adress"`},
		{"environment", map[string]string{"MONCTL_SERVE_WEB_TELEMETRY_PATH": "metrics"}, nil, 2, `--web.telemetry-path "metrics" must start with /`},
		{"missing web config", nil, []string{"--web.config.file", filepath.Join(dir, "nope.yml")}, 2, "web config file " + filepath.Join(dir, "nope.yml")},
		{"password not hashed", nil, []string{"--web.config.file", write("pw.yml", "basic_auth_users:\n  alice: secret\n")}, 2, "web config file"},
		{"certificate that is not one", nil, []string{"--web.config.file", write("tls.yml", "tls_server_config:\n  cert_file: "+file+"\n  key_file: "+file+"\n")}, 2, "X509KeyPair"},
		{"address in use", nil, []string{"--web.listen-address", busy.Addr().String()}, 1, "cannot listen on " + busy.Addr().String() + ": bind: address already in use"},
		{"standard input", nil, []string{"--target", "-"}, 2, "standard input can be read only once"},
		{"same name twice", nil, []string{"--target", file}, 2, "two targets are named"},
		{"once-timeout alone", nil, []string{"--once-timeout", "1s"}, 2, "--once-timeout goes with --once"},
		{"bad log level", nil, []string{"--log.level", "loud"}, 2, `--log.level "loud"`},
		{"nobody scrapes", nil, []string{"--once", "--once-timeout", "300ms"}, 1, "nobody scraped /metrics within 300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			args := append(append([]string{}, base...), tc.args...)
			if tc.args != nil && tc.args[0] == "--config" {
				args = append(tc.args[:2:2], base...) // a global flag, before the verb
			}
			_, errOut, code := runCLI(t, nil, args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want %d; stderr should contain %q:\n%s", code, tc.code, tc.want, errOut)
			}
		})
	}

	t.Run("nothing to serve", func(t *testing.T) {
		if _, errOut, code := runCLI(t, nil, "serve", "--containers=false"); code != 2 || !strings.Contains(errOut, "nothing to serve") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("no engine", func(t *testing.T) {
		_, errOut, code := runCLI(t, nil, "serve", "--host", "unix:///nonexistent/docker.sock", "--web.listen-address", "127.0.0.1:0")
		if code != 1 || !strings.Contains(errOut, "cannot reach the Docker engine at unix:///nonexistent/docker.sock") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
}
