package objectstore

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseDest(t *testing.T) {
	for in, want := range map[string]Dest{
		"s3://b":      {Bucket: "b"},
		"s3://b/":     {Bucket: "b"},
		"s3://b/logs": {Bucket: "b", Prefix: "logs/"},
		"s3://b/a/b/": {Bucket: "b", Prefix: "a/b/"},
	} {
		if got, err := ParseDest(in); err != nil || got != want {
			t.Errorf("%s: %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"s3://", "s3:///p", "/tmp/x", "http://b"} {
		if _, err := ParseDest(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestProfileConfig: region, endpoint and the s3 block's addressing
// style come from the profile's section of the shared config file.
func TestProfileConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config")
	os.WriteFile(file, []byte("[default]\nregion = eu-west-1\n\n[profile lab]\nregion = us-east-2\nendpoint_url = http://127.0.0.1:7070\ns3 =\n  addressing_style = path\n"), 0o600)
	t.Setenv("AWS_CONFIG_FILE", file)
	if c := profileConfig("default"); c["region"] != "eu-west-1" {
		t.Errorf("default: %v", c)
	}
	c := profileConfig("lab")
	if c["region"] != "us-east-2" || c["endpoint_url"] != "http://127.0.0.1:7070" || c["s3.addressing_style"] != "path" {
		t.Errorf("lab: %v", c)
	}
	if c := profileConfig("none"); len(c) != 0 {
		t.Errorf("a missing profile: %v", c)
	}
}
