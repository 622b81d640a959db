//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monctl/monctl/internal/testengine"
)

// testContext is a docker context's endpoint: a host, and for TLS the
// files (ca.pem, cert.pem, key.pem) copied from a directory into the
// context store, and whether to skip verifying the server.
type testContext struct {
	host     string
	tlsFrom  string
	tlsFiles []string
	skip     bool
}

// dockerConfig makes a docker CLI config directory with the contexts,
// laid out as 'docker context create' does, and current as the current
// context.
func dockerConfig(t *testing.T, current string, contexts map[string]testContext) string {
	t.Helper()
	dir := t.TempDir()
	write := func(path string, b []byte) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, c := range contexts {
		sum := sha256.Sum256([]byte(name))
		id := hex.EncodeToString(sum[:])
		b, _ := json.Marshal(map[string]any{"Name": name, "Metadata": map[string]any{},
			"Endpoints": map[string]any{"docker": map[string]any{"Host": c.host, "SkipTLSVerify": c.skip}}})
		write(filepath.Join(dir, "contexts", "meta", id, "meta.json"), b)
		for _, f := range c.tlsFiles {
			b, err := os.ReadFile(filepath.Join(c.tlsFrom, f))
			if err != nil {
				t.Fatal(err)
			}
			write(filepath.Join(dir, "contexts", "tls", id, "docker", f), b)
		}
	}
	b, _ := json.Marshal(map[string]string{"currentContext": current})
	write(filepath.Join(dir, "config.json"), b)
	return dir
}

// TestWatchPicksTheDockerContext: engine selection as the docker CLI
// makes it: --context, else DOCKER_CONTEXT, else the current context;
// DOCKER_HOST wins over the last two; the host shown is the context's
// name. One context is a unix socket, the others the TLS port of the
// second engine, with the context's certificates.
func TestWatchPicksTheDockerContext(t *testing.T) {
	old, recent := engines[0], engines[len(engines)-1]
	runContainer(t, old, "ctx-old", nil, testengine.WorkloadImage)
	runContainer(t, recent, "ctx-new", nil, testengine.WorkloadImage)
	waitReady(t, old, "ctx-old")
	waitReady(t, recent, "ctx-new")
	if recent.TLSHost == "" {
		t.Fatal("the second engine has no TLS port")
	}
	certs := recent.ClientCerts
	cfg := dockerConfig(t, "new", map[string]testContext{
		"old":    {host: old.Host},
		"new":    {host: recent.TLSHost, tlsFrom: certs, tlsFiles: []string{"ca.pem", "cert.pem", "key.pem"}},
		"skip":   {host: recent.TLSHost, tlsFrom: certs, tlsFiles: []string{"cert.pem", "key.pem"}, skip: true},
		"noca":   {host: recent.TLSHost, tlsFrom: certs, tlsFiles: []string{"cert.pem", "key.pem"}},
		"nocert": {host: recent.TLSHost, tlsFrom: certs, tlsFiles: []string{"ca.pem"}},
	})

	run := func(env []string, args ...string) (string, string, int) {
		t.Helper()
		return monctlEnv(t, append(noEngineEnv(cfg), env...),
			append([]string{"watch", "containers", "--once", "--interval", "0.3", "-o", "json", "--filter", "name=^ctx-"}, args...)...)
	}
	for _, c := range []struct {
		what       string
		env        []string
		args       []string
		host, name string
	}{
		{"the current context (TLS)", nil, nil, "new", "ctx-new"},
		{"SkipTLSVerify", nil, []string{"--context", "skip"}, "skip", "ctx-new"},
		{"DOCKER_CONTEXT", []string{"DOCKER_CONTEXT=old"}, nil, "old", "ctx-old"},
		{"--context over DOCKER_CONTEXT", []string{"DOCKER_CONTEXT=new"}, []string{"--context", "old"}, "old", "ctx-old"},
		{"DOCKER_HOST over the current context", []string{"DOCKER_HOST=" + old.Host}, nil, old.Host, "ctx-old"},
		{"the default context is DOCKER_HOST", []string{"DOCKER_HOST=" + recent.Host}, []string{"--context", "default"}, recent.Host, "ctx-new"},
	} {
		out, errOut, code := run(c.env, c.args...)
		var recs []struct {
			Host string `json:"host"`
			Name string `json:"name"`
		}
		if err := json.Unmarshal([]byte(out), &recs); err != nil || code != 0 {
			t.Errorf("%s: exit %d, %v: %s", c.what, code, err, errOut)
			continue
		}
		if len(recs) != 1 || recs[0].Host != c.host || recs[0].Name != c.name {
			t.Errorf("%s: %+v, want %s on %s", c.what, recs, c.name, c.host)
		}
	}
	if _, errOut, code := run(nil, "--context", "old", "-H", old.Host); code != 2 || !strings.Contains(errOut, "context") {
		t.Errorf("--context with -H: exit %d, %s", code, errOut)
	}
	if _, errOut, code := run(nil, "--context", "nope"); code != 1 || !strings.Contains(errOut, "no such docker context") {
		t.Errorf("an unknown context: exit %d, %s", code, errOut)
	}
	// The server's certificate is not trusted without the context's CA;
	// the engine refuses a client without a certificate.
	for _, name := range []string{"noca", "nocert"} {
		if _, errOut, code := run(nil, "--context", name); code != 1 || !strings.Contains(errOut, "context "+name) || !strings.Contains(errOut, "TLS") {
			t.Errorf("context %s: exit %d, %s", name, code, errOut)
		}
	}
}
