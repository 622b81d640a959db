// Package objectstore puts files into an S3-compatible bucket (AWS S3,
// MinIO, versitygw, Ceph, R2...), found and signed for the way the AWS
// tools do it: credentials from the environment, then the shared
// credentials and config files of a profile; region and endpoint from
// the flags, the environment or the profile.
package objectstore

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"gopkg.in/ini.v1"
)

// Dest is where objects go: s3://BUCKET/PREFIX.
type Dest struct {
	Bucket string
	Prefix string // "" or ending in "/"
}

// IsURL says whether s names a bucket rather than a directory.
func IsURL(s string) bool { return strings.HasPrefix(s, "s3://") }

// ParseDest reads s3://BUCKET[/PREFIX].
func ParseDest(s string) (Dest, error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return Dest{}, fmt.Errorf("%q: want s3://BUCKET/PREFIX", s)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return Dest{}, fmt.Errorf("%q: no bucket (want s3://BUCKET/PREFIX)", s)
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return Dest{Bucket: bucket, Prefix: prefix}, nil
}

func (d Dest) String() string { return "s3://" + d.Bucket + "/" + d.Prefix }

// Config says how to reach the bucket. Empty fields are found as the
// AWS CLI finds them.
type Config struct {
	Endpoint  string // URL; else $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, the profile's endpoint_url, AWS
	Region    string // else $AWS_REGION, $AWS_DEFAULT_REGION, the profile's region, asked of the bucket
	Profile   string // else $AWS_PROFILE, else "default"
	PathStyle bool   // https://HOST/BUCKET/KEY rather than https://BUCKET.HOST/KEY
	CAFile    string // else $AWS_CA_BUNDLE; PEM certificates trusted besides the system's
	// Timeout bounds one request.
	Timeout time.Duration
}

// Store puts objects into one bucket.
type Store struct {
	dest     Dest
	endpoint string // for messages: scheme and host, never credentials
	client   *minio.Client
	timeout  time.Duration
}

// Open makes a client for dest. It sends nothing: Check does.
func Open(dest Dest, c Config) (*Store, error) {
	profile := firstOf(c.Profile, os.Getenv("AWS_PROFILE"), "default")
	conf := profileConfig(profile)
	endpoint := firstOf(c.Endpoint, os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL"), conf["endpoint_url"], "https://s3.amazonaws.com")
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("endpoint %q: want http(s)://HOST[:PORT]", endpoint)
	}
	u.User = nil
	transport, err := minio.DefaultTransport(u.Scheme == "https")
	if err != nil {
		return nil, err
	}
	if caFile := firstOf(c.CAFile, os.Getenv("AWS_CA_BUNDLE")); caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it", caFile)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	lookup := minio.BucketLookupAuto
	if c.PathStyle || conf["s3.addressing_style"] == "path" {
		lookup = minio.BucketLookupPath
	}
	// The chain is the AWS tools' without the instance metadata service:
	// monctl never sends a request anywhere it was not told to.
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{Profile: profile},
	})
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        creds,
		Secure:       u.Scheme == "https",
		Transport:    transport,
		Region:       firstOf(c.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), conf["region"]),
		BucketLookup: lookup,
		// A failed put is kept on disk and tried again later: the
		// client's own ten retries with back-off would hold a run for
		// minutes on a server that is down.
		MaxRetries: 2,
	})
	if err != nil {
		return nil, err
	}
	return &Store{dest: dest, endpoint: u.Scheme + "://" + u.Host, client: client, timeout: cmp.Or(c.Timeout, time.Minute)}, nil
}

// profileConfig is the profile's section of the shared config file
// ($AWS_CONFIG_FILE, else ~/.aws/config), keys as written ("region",
// "endpoint_url", and "s3.addressing_style" from its s3 block). A file
// that is missing or unreadable gives nothing: the credentials chain
// says what is wrong with it when credentials were wanted from it.
func profileConfig(profile string) map[string]string {
	file := os.Getenv("AWS_CONFIG_FILE")
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil
		}
		file = filepath.Join(home, ".aws", "config")
	}
	f, err := ini.Load(file)
	if err != nil {
		return nil
	}
	name := "profile " + profile
	if profile == "default" && !f.HasSection(name) {
		name = "default"
	}
	sec, err := f.GetSection(name)
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, k := range sec.Keys() {
		// The nested block "s3 =\n  addressing_style = path" reads as
		// an empty s3 key and addressing_style of its own.
		name := k.Name()
		if name == "addressing_style" {
			name = "s3." + name
		}
		out[name] = k.Value()
	}
	return out
}

// Where names the destination and the server for messages.
func (s *Store) Where() string { return s.dest.String() + " at " + s.endpoint }

// Check asks whether the bucket exists and takes our credentials, so
// that a wrong key or bucket is said before anything is read.
func (s *Store) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ok, err := s.client.BucketExists(ctx, s.dest.Bucket)
	switch {
	case err != nil:
		return s.explain(err)
	case !ok:
		return &RefusedError{Where: s.Where(), Code: "NoSuchBucket"}
	}
	return nil
}

// Put uploads the file at file as PREFIX+name. Putting the same name
// again replaces the object, so a put retried after an answer that was
// lost leaves one copy.
func (s *Store) Put(ctx context.Context, name, file, contentType string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.client.FPutObject(ctx, s.dest.Bucket, path.Join(s.dest.Prefix, name), file, minio.PutObjectOptions{ContentType: contentType})
	if err != nil {
		return s.explain(err)
	}
	return nil
}

// explain turns the client's error into one that says what to try. The
// client's messages carry no credentials; ours name the variables, not
// their values.
func (s *Store) explain(err error) error {
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken", "NoSuchBucket":
		return &RefusedError{Where: s.Where(), Code: resp.Code}
	case "":
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is in Where, without the query
		}
		return fmt.Errorf("%s: %w", s.Where(), err)
	}
	return fmt.Errorf("%s: %s (%s)", s.Where(), resp.Message, resp.Code)
}

// RefusedError is the server refusing our credentials or our right to
// write, or having no such bucket: trying again does not help.
type RefusedError struct{ Where, Code string }

func (e *RefusedError) Error() string {
	if e.Code == "NoSuchBucket" {
		return e.Where + ": no such bucket"
	}
	return fmt.Sprintf("%s: the credentials were refused (%s): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the profile's in ~/.aws/credentials (AWS_PROFILE, --s3-profile)", e.Where, e.Code)
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
