package containers

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestContextName(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"currentContext": "from-config"}`), 0o600)
	t.Setenv("DOCKER_CONFIG", dir)
	for _, c := range []struct {
		given, envContext, envHost, want string
	}{
		{"", "", "", "from-config"},
		{"", "from-env", "", "from-env"},
		{"given", "from-env", "", "given"},
		{"", "from-env", "tcp://h:2375", ""}, // DOCKER_HOST wins over contexts it was not told of
		{"given", "", "tcp://h:2375", "given"},
		{"default", "", "", ""},
	} {
		t.Setenv("DOCKER_CONTEXT", c.envContext)
		t.Setenv("DOCKER_HOST", c.envHost)
		if got, err := ContextName(c.given); err != nil || got != c.want {
			t.Errorf("%+v: %q, %v", c, got, err)
		}
	}
	t.Setenv("DOCKER_CONTEXT", "")
	t.Setenv("DOCKER_HOST", "")
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{`), 0o600)
	if _, err := ContextName(""); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("a broken config.json: %v", err)
	}
	if _, err := ConnectContext(context.Background(), "nope", 1); err == nil || !strings.Contains(err.Error(), "no such docker context") {
		t.Errorf("an unknown context: %v", err)
	}
}
