//go:build e2e

package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/monctl/monctl/internal/testengine"
)

const (
	s3Key    = "monctl-e2e-key"
	s3Secret = "monctl-e2e-secret-0123456789"
)

// pieceName is the name of an object of s3-talker's lines under run1/.
var pieceName = regexp.MustCompile(`^run1/[^/]+_s3-talker\.[0-9]{8}T[0-9]{6}\.[0-9]{3}Z\.log$`)

// s3Server is versitygw serving S3 over a directory on loopback.
type s3Server struct {
	addr, dir string
	stop      func()
}

func startS3(t *testing.T) *s3Server {
	t.Helper()
	s := &s3Server{addr: loopback(t), dir: t.TempDir()}
	if err := os.Mkdir(filepath.Join(s.dir, "logs"), 0o755); err != nil { // a bucket is a directory
		t.Fatal(err)
	}
	s.start(t)
	return s
}

func (s *s3Server) start(t *testing.T) {
	t.Helper()
	t.Setenv("ROOT_ACCESS_KEY", s3Key)
	t.Setenv("ROOT_SECRET_KEY", s3Secret)
	s.stop = start(t, "http://"+s.addr+"/health", tool(t, "versitygw"), "--port", s.addr, "--health", "/health", "--quiet", "posix", s.dir)
}

// objects are the bodies of the objects under prefix, by name, read
// back through the S3 API and gunzipped when their name says so.
func (s *s3Server) objects(t *testing.T, prefix string) map[string]string {
	t.Helper()
	c, err := minio.New(s.addr, &minio.Options{Creds: credentials.NewStaticV4(s3Key, s3Secret, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out := map[string]string{}
	for o := range c.ListObjects(ctx, "logs", minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		obj, err := c.GetObject(ctx, "logs", o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = obj
		if strings.HasSuffix(o.Key, ".gz") {
			if r, err = gzip.NewReader(obj); err != nil {
				t.Fatalf("%s: %v", o.Key, err)
			}
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: %v", o.Key, err)
		}
		out[o.Key] = string(b)
	}
	return out
}

// s3Env names the server and its credentials as the AWS tools take them.
func (s *s3Server) env(secret string) []string {
	return []string{"AWS_ACCESS_KEY_ID=" + s3Key, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_ENDPOINT_URL=http://" + s.addr,
		"AWS_REGION=us-east-1", "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent"}
}

// linesOnce counts the lines of the objects and fails unless each of want
// is among them exactly once.
func linesOnce(t *testing.T, objects map[string]string, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, body := range objects {
		for line := range strings.Lines(body) {
			seen[strings.TrimSuffix(line, "\n")]++
		}
	}
	for _, w := range want {
		if seen[w] != 1 {
			t.Errorf("%q is in the bucket %d times, want once", w, seen[w])
		}
	}
	if n := len(seen); n != len(want) {
		t.Errorf("%d distinct lines in the bucket, want %d", n, len(want))
	}
}

// TestLogsToS3: logs --output-dir s3:// against versitygw. Every line
// reaches the bucket exactly once, across rotation into several objects,
// a server that stops and comes back while following, and a server that
// is down for a whole run (the pieces wait on disk and the next run sends
// them). A wrong secret exits 1 and says so without the secret.
func TestLogsToS3(t *testing.T) {
	e := engines[len(engines)-1]
	s3 := startS3(t)
	queue := t.TempDir()
	runContainer(t, e, "s3-talker", nil, testengine.WorkloadImage, "-log-lines", "200", "-log-rate", "400")
	waitFor(t, "the talker's 200 lines", 30*time.Second, func() bool {
		out, _ := e.Docker("logs", "s3-talker")
		return strings.Contains(out, "line 199 out")
	})
	docker := func(name string) []string { // both streams
		out, err := exec.Command("docker", "-H", e.Host, "logs", name).CombinedOutput()
		if err != nil {
			t.Fatal(err, string(out))
		}
		return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	}
	talker := docker("s3-talker")
	if len(talker) != 201 {
		t.Fatalf("docker logs has %d lines, want 201", len(talker))
	}
	env := append(s3.env(s3Secret), "DOCKER_HOST="+e.Host)

	// Rotation: objects of at most --max-size, every line once.
	out, errOut, code := monctlEnv(t, env, "logs", "s3-talker", "--output-dir", "s3://logs/run1", "--max-size", "1KiB", "--queue-dir", queue)
	objs := s3.objects(t, "run1/")
	if code != 0 || out != "" || len(objs) < 3 {
		t.Fatalf("exit %d, %d objects, stdout %q: %s", code, len(objs), out, errOut)
	}
	for name, body := range objs {
		if len(body) > 1024 || !pieceName.MatchString(name) {
			t.Errorf("object %s: %d bytes", name, len(body))
		}
	}
	linesOnce(t, objs, talker)

	// A wrong secret: exit 1 before anything is read, the secret unsaid.
	_, errOut, code = monctlEnv(t, append(s3.env("not-the-secret"), "DOCKER_HOST="+e.Host), "logs", "s3-talker", "--output-dir", "s3://logs/wrong", "--queue-dir", queue)
	if code != 1 || !strings.Contains(errOut, "s3://logs/wrong/ at http://"+s3.addr+": the credentials were refused (") ||
		strings.Contains(errOut, "not-the-secret") || strings.Contains(errOut, s3Key) {
		t.Errorf("a wrong secret: exit %d: %s", code, errOut)
	}
	if objs := s3.objects(t, "wrong/"); len(objs) != 0 {
		t.Errorf("a wrong secret left %d objects", len(objs))
	}

	// Following, gzipped records, while the server stops for 3 seconds.
	runContainer(t, e, "s3-follow", nil, testengine.WorkloadImage, "-log-lines", "300", "-log-rate", "30", "-exit-after", "12s")
	waitReady(t, e, "s3-follow")
	follow := exec.Command(monctlBin, "logs", "-f", "s3-follow", "-o", "jsonl", "--output-dir", "s3://logs/follow", "--compress", "--upload-every", "1s", "--queue-dir", queue)
	follow.Env = append(append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "MONCTL_CONFIG="), env...)
	var followErr bytes.Buffer
	follow.Stderr = &followErr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { follow.Process.Kill() })
	waitFor(t, "a first object while following", 20*time.Second, func() bool { return len(s3.objects(t, "follow/")) > 0 })
	s3.stop()
	time.Sleep(3 * time.Second)
	s3.start(t)
	done := make(chan error, 1)
	go func() { done <- follow.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("logs -f: %v: %s", err, followErr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("logs -f did not end with its container: %s", followErr.String())
	}
	if !strings.Contains(followErr.String(), "kept in") || !strings.Contains(followErr.String(), "takes the pieces again") {
		t.Errorf("the server's going and coming back is not told:\n%s", followErr.String())
	}
	objs = s3.objects(t, "follow/")
	var msgs []string
	for name, body := range objs {
		if !strings.HasSuffix(name, ".jsonl.gz") {
			t.Errorf("object %s: want .jsonl.gz", name)
		}
		for _, r := range logRecords(t, body) {
			msgs = append(msgs, r.Message)
		}
	}
	t.Logf("following: %d objects; monctl said:\n%s", len(objs), followErr.String())
	linesOnce(t, map[string]string{"": strings.Join(msgs, "\n") + "\n"}, docker("s3-follow"))

	// A server down for a whole run: exit 3, the pieces wait in the
	// queue; the next run sends them first.
	s3.stop()
	_, errOut, code = monctlEnv(t, env, "logs", "s3-talker", "--output-dir", "s3://logs/later", "--queue-dir", queue)
	if code != 3 || !strings.Contains(errOut, "sent first by the next run") {
		t.Fatalf("a server that is down: exit %d: %s", code, errOut)
	}
	s3.start(t)
	// The next run takes its credentials from a profile of the shared
	// files, as the AWS CLI would, and names the server by flag.
	awsDir := t.TempDir()
	os.WriteFile(filepath.Join(awsDir, "credentials"), []byte("[lab]\naws_access_key_id = "+s3Key+"\naws_secret_access_key = "+s3Secret+"\n"), 0o600)
	os.WriteFile(filepath.Join(awsDir, "config"), []byte("[profile lab]\nregion = us-east-1\n"), 0o600)
	profileEnv := []string{"DOCKER_HOST=" + e.Host, "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_ENDPOINT_URL=",
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(awsDir, "credentials"), "AWS_CONFIG_FILE=" + filepath.Join(awsDir, "config")}
	if _, errOut, code := monctlEnv(t, profileEnv, "logs", "s3-talker", "--tail", "0", "--output-dir", "s3://logs/later", "--queue-dir", queue,
		"--s3-profile", "lab", "--s3-endpoint", "http://"+s3.addr, "--s3-path-style"); code != 0 {
		t.Fatalf("the next run: exit %d: %s", code, errOut)
	}
	linesOnce(t, s3.objects(t, "later/"), talker)
}
