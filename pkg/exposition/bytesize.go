package exposition

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a size in bytes written as Prometheus writes body_size_limit:
// 64MiB, 10MB (binary, as Prometheus reads it), 512KiB, or a plain count.
type ByteSize int64

// maxByteSize keeps a size far from overflowing anything that adds to it.
const maxByteSize = 1 << 50 // 1 PiB

// ParseByteSize reads a size. It refuses negative, fractional-byte and
// absurd sizes instead of letting them wrap around.
func ParseByteSize(text string) (ByteSize, error) {
	s := strings.TrimSpace(text)
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"TB", 1 << 40}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}}
	mult := 1.0
	for _, u := range units {
		// Case does not matter, as in docker's sizes: 200k is 200K.
		if len(s) >= len(u.suffix) && strings.EqualFold(s[len(s)-len(u.suffix):], u.suffix) {
			s, mult = s[:len(s)-len(u.suffix)], u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	switch {
	case err != nil || math.IsNaN(n) || n < 0:
		return 0, fmt.Errorf("invalid size %q (want e.g. 64MiB)", text)
	case n*mult > maxByteSize:
		return 0, fmt.Errorf("size %q is larger than the %s monctl allows", text, FormatBytes(maxByteSize))
	}
	return ByteSize(n * mult), nil
}

// UnmarshalYAML reads a size from a config file.
func (b *ByteSize) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err != nil {
		return err
	}
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}
