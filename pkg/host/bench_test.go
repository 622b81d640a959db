package host

import (
	"testing"

	"github.com/prometheus/procfs"
)

// BenchmarkReadCPU reads this machine's /proc/stat as the cgroup fast path
// does every round, beside prometheus/procfs's Stat, which parses all of
// it (the reason ReadCPU reads the cpu lines itself).
func BenchmarkReadCPU(b *testing.B) {
	b.Run("host.ReadCPU", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ReadCPU("/proc"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("procfs.Stat", func(b *testing.B) {
		fs, err := procfs.NewFS("/proc")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := fs.Stat(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
