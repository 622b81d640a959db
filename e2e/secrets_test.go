//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoSecretAnywhere runs every path that can print a URL, an engine
// host or a config value with a canary password, and greps stdout (JSON
// reports included) and stderr for it: malformed URLs of each sink,
// deliveries that fail, engines that cannot be reached over tcp and ssh,
// and config values of the wrong shape.
func TestNoSecretAnywhere(t *testing.T) {
	const canary = "CANARY7h1s"
	dead := loopback(t)
	dir := t.TempDir()
	file := writeTemp(t, "in.prom", "a 1\n")
	config := func(body string) string {
		p := filepath.Join(dir, fmt.Sprintf("c%d.yaml", len(body)))
		os.WriteFile(p, []byte(strings.ReplaceAll(body, "CANARY", canary)), 0o600)
		return p
	}
	cases := [][]string{
		{"push", "--remote-write", "http://user:CANARY@[::1/w", file},
		{"push", "--influx", "http://user:CANARY@h/x%zz", file},
		{"push", "--pushgateway", "http://user:CANARY@h:1/%zz", file},
		{"push", "--influx", "http://" + dead + "/write?db=x&u=me&p=CANARY", "--retries", "0", "--queue-dir", dir, "-o", "json", file},
		{"push", "--remote-write", "http://user:CANARY@" + dead + "/api/v1/write", "--retries", "0", "--queue-dir", dir, "-o", "json", file},
		{"push", "--pushgateway", "http://user:CANARY@" + dead, "--retries", "0", "--queue-dir", "", "-o", "yaml", file},
		{"scrape", "-o", "json", "http://user:CANARY@" + dead + "/metrics"},
		{"scrape", "http://user:CANARY@[::1/metrics"},
		{"watch", "containers", "--once", "-H", "tcp://u:CANARY@" + dead},
		{"watch", "containers", "--once", "-o", "json", "-H", "ssh://u:CANARY@" + dead},
		{"logs", "-H", "tcp://u:CANARY@" + dead},
		{"logs", "-H", "ssh://u:CANARY@" + dead},
		{"serve", "--web.listen-address", loopback(t), "-H", "tcp://u:CANARY@" + dead},
		{"--config", config("push:\n  job: {password: CANARY}\n"), "push", "--remote-write", "http://" + dead, file},
		{"--config", config("push:\n  grouping: [{password: CANARY}]\n"), "push", "--pushgateway", "http://" + dead, file},
		{"--config", config("remote-write:\n  - url: http://h/w\n    http_config: {basic_auth: {username: u, password: CANARY}}\n"), "push", file},
		{"--config", config("push:\n  remote-write:\n    - url: \"http://u:CANARY@[::1/w\"\n"), "push", file},
		{"--config", config("push:\n  remote-write:\n    - url: http://" + dead + "/w\n      http_config: {basic_auth: {username: u, password: CANARY}, bogus: 1}\n"), "push", file},
	}
	for _, args := range cases {
		for i := range args {
			args[i] = strings.ReplaceAll(args[i], "CANARY", canary)
		}
		out, errOut, code := monctl(t, args...)
		if code == 0 {
			t.Errorf("%q: exit 0, want a failure", args)
		}
		if strings.Contains(out+errOut, canary) {
			t.Errorf("%q printed the password (exit %d):\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
	}
}
