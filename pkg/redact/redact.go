// Package redact keeps credentials out of what monctl prints: every path
// that can show a URL, an engine host or a message quoting one goes
// through it, so that a password never reaches a terminal, a log, a
// label or a JSON report.
package redact

import (
	"net/url"
	"strings"
)

// Mask stands where a secret was.
const Mask = "xxxxx"

// secretParams are query parameters that carry credentials (InfluxDB
// 1.x's u and p, tokens and signatures of object stores and APIs).
var secretParams = []string{"p", "password", "pass", "pwd", "token", "access_token", "api_key", "apikey", "key", "secret",
	"signature", "sig", "auth", "authorization", "credential", "credentials", "x-amz-signature", "x-amz-credential", "x-amz-security-token"}

// URL is s with the password of its user info and the values of its
// credential parameters masked. A URL that does not parse is cut at its
// user info's end, with whatever stood before masked, so that an error
// about a malformed URL never quotes its password either.
func URL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return unparsed(s)
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), Mask)
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = Mask
		} else {
			masked := false
			for k := range q {
				if isSecretParam(k) {
					q[k] = []string{Mask}
					masked = true
				}
			}
			if masked {
				u.RawQuery = q.Encode()
			}
		}
	}
	return u.String()
}

func isSecretParam(name string) bool {
	for _, p := range secretParams {
		if strings.EqualFold(name, p) {
			return true
		}
	}
	return false
}

// unparsed masks the user info and the query of a URL that did not
// parse: everything between the scheme and the last @ (a password may
// hold a '/' or an '@'), and everything after a ?.
func unparsed(s string) string {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s = s[:i+1] + Mask
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return s
	}
	return scheme + "://" + Mask + "@" + rest[at+1:]
}

// In is msg with every secret that rawURL holds (its password and its
// credential parameters' values) masked wherever msg quotes it, however
// a library quoted or escaped the URL.
func In(msg, rawURL string) string {
	for _, s := range secrets(rawURL) {
		if len(s) >= 3 { // shorter is no secret worth hiding, and would mask ordinary text
			msg = strings.ReplaceAll(msg, s, Mask)
			if e := url.QueryEscape(s); e != s {
				msg = strings.ReplaceAll(msg, e, Mask)
			}
		}
	}
	return msg
}

// secrets are the credentials in a URL, parsed or not.
func secrets(raw string) []string {
	var out []string
	if u, err := url.Parse(raw); err == nil {
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
		for k, vs := range u.Query() {
			if isSecretParam(k) {
				out = append(out, vs...)
			}
		}
		return out
	}
	// Unparsable: the text between the first ':' after the scheme and
	// the last '@' is the password, raw.
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
			out = append(out, pw)
			if d, err := url.PathUnescape(pw); err == nil && d != pw {
				out = append(out, d)
			}
		}
	}
	return out
}
