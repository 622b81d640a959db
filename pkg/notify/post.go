package notify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// postJSON posts body to url with client, trying again retries times,
// longer apart each time, while it fails (a transport error or a status
// other than 2xx). It returns the last error, and how long the
// successful POST took.
func postJSON(ctx context.Context, client *http.Client, url, userAgent string, body []byte) (time.Duration, error) {
	var err error
	for attempt := range retries + 1 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
		}
		start := time.Now()
		if err = postOnce(ctx, client, url, userAgent, body); err == nil {
			return time.Since(start), nil
		}
	}
	return 0, err
}

func postOnce(ctx context.Context, client *http.Client, url, userAgent string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}
