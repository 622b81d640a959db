package containers

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
)

// hostTree writes files (path → content) under a temporary directory
// standing for / and returns it.
func hostTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, text := range files {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const testID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// procFiles are a host's /proc: 2 CPUs, 4 GiB, and process 4242 with two
// interfaces besides lo.
func procFiles(cgroup string) map[string]string {
	return map[string]string{
		// user nice system idle iowait irq softirq steal: steal is not
		// counted, as in dockerd.
		"proc/stat":        "cpu  100 0 50 800 25 0 25 999 0 0\ncpu0 50 0 25 400 12 0 13 500 0 0\ncpu1 50 0 25 400 13 0 12 499 0 0\nintr 1 2 3\n",
		"proc/meminfo":     "MemTotal:        4194304 kB\nMemFree:         1000 kB\n",
		"proc/4242/cgroup": cgroup,
		"proc/4242/net/dev": "Inter-|   Receive                                                |  Transmit\n" +
			" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n" +
			"    lo:  999999      10    0    0    0     0          0         0   999999      10    0    0    0     0       0          0\n" +
			"  eth0:    1000      10    0    0    0     0          0         0     2000      20    0    0    0     0       0          0\n" +
			"  eth1:      30       1    0    0    0     0          0         0       40       1    0    0    0     0       0          0\n",
	}
}

func TestCgroupV1ReadsWhatDockerdReads(t *testing.T) {
	dir := "docker/" + testID // the cgroupfs driver
	files := procFiles("12:pids:/" + dir + "\n4:memory:/" + dir + "\n3:cpu,cpuacct:/" + dir + "\n2:blkio:/" + dir + "\n1:name=systemd:/" + dir + "\n0::/" + dir + "\n")
	for p, text := range map[string]string{
		"cpuacct/" + dir + "/cpuacct.usage":             "5000000000\n",
		"memory/" + dir + "/memory.usage_in_bytes":      "104857600\n",
		"memory/" + dir + "/memory.limit_in_bytes":      "9223372036854771712\n", // no limit
		"memory/" + dir + "/memory.stat":                "cache 4096\ninactive_file 1\ntotal_inactive_file 4194304\n",
		"pids/" + dir + "/pids.current":                 "7\n",
		"pids/" + dir + "/pids.max":                     "max\n",
		"blkio/" + dir + "/blkio.io_serviced_recursive": "Total 0\n",
		// CFQ's file says nothing, so the throttle file counts.
		"blkio/" + dir + "/blkio.io_service_bytes_recursive": "Total 0\n",
		"blkio/" + dir + "/blkio.throttle.io_service_bytes":  "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\n8:16 Read 1\n8:16 Write 2\nTotal 12291\n",
	} {
		files["sys/fs/cgroup/"+p] = text
	}
	root := hostTree(t, files)
	fs, err := openCgroupFS(filepath.Join(root, "sys/fs/cgroup"), filepath.Join(root, "proc"))
	if err != nil {
		t.Fatal(err)
	}
	if fs.Version() != "cgroup-v1" {
		t.Errorf("version %s", fs.Version())
	}
	c := &Container{ID: testID, pid: 4242, netMode: "bridge"}
	d, err := fs.resolve(c)
	if err != nil {
		t.Fatal(err)
	}
	cpu, err := fs.systemCPU()
	if err != nil {
		t.Fatal(err)
	}
	// (100+0+50+800+25+0+25) ticks of 10 ms.
	if cpu.DockerNanos() != 10_000_000_000 || cpu.CPUs != 2 {
		t.Errorf("host CPU %+v", cpu)
	}
	u, err := fs.sample(d, cpu)
	if err != nil {
		t.Fatal(err)
	}
	want := Usage{Read: u.Read, CPUTotal: 5e9, SystemCPU: 1e10, OnlineCPUs: 2,
		MemUsage: 104857600, MemUsed: 104857600 - 4194304, MemLimit: 4 << 30,
		NetRx: 1030, NetTx: 2040, BlkRead: 4097, BlkWrite: 8194, PIDs: 7}
	if u != want {
		t.Errorf("got  %+v\nwant %+v", u, want)
	}

	// The files stay open between rounds and are read afresh each time;
	// close releases them, and the next read opens them again.
	if d.fds[fileCPU] < 0 {
		t.Error("cpuacct.usage was not kept open")
	}
	os.WriteFile(filepath.Join(root, "sys/fs/cgroup/cpuacct", dir, "cpuacct.usage"), []byte("6000000000\n"), 0o644)
	if u, _ = fs.sample(d, cpu); u.CPUTotal != 6e9 {
		t.Errorf("second round: CPU %d, want 6e9", u.CPUTotal)
	}
	d.close()
	if d.fds != [fileCount]int{-1, -1, -1, -1, -1, -1, -1} {
		t.Errorf("files left open: %v", d.fds)
	}
	if u, _ = fs.sample(d, cpu); u.CPUTotal != 6e9 {
		t.Errorf("after close: CPU %d, want 6e9", u.CPUTotal)
	}
	d.close()
}

func TestCgroupV2ReadsWhatDockerdReads(t *testing.T) {
	dir := "system.slice/docker-" + testID + ".scope" // the systemd driver
	files := procFiles("0::/" + dir + "\n")
	for p, text := range map[string]string{
		"cgroup.controllers":    "cpu io memory pids\n",
		dir + "/cpu.stat":       "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n",
		dir + "/memory.current": "52428800\n",
		dir + "/memory.max":     "268435456\n",
		dir + "/memory.stat":    "anon 1000\nactive_file 5\ninactive_file 2097152\n",
		dir + "/pids.current":   "3\n",
		dir + "/pids.max":       "max\n",
		dir + "/io.stat":        "8:0 rbytes=1000 wbytes=2000 rios=1 wios=2 dbytes=0 dios=0\n253:0 rbytes=10 wbytes=20 rios=1 wios=1 dbytes=0 dios=0\n",
	} {
		files["sys/fs/cgroup/"+p] = text
	}
	root := hostTree(t, files)
	fs, err := openCgroupFS(filepath.Join(root, "sys/fs/cgroup"), filepath.Join(root, "proc"))
	if err != nil {
		t.Fatal(err)
	}
	if fs.Version() != "cgroup-v2" {
		t.Errorf("version %s", fs.Version())
	}
	// The host's network: dockerd reports no networks of its own.
	d, err := fs.resolve(&Container{ID: testID, pid: 4242, netMode: "host"})
	if err != nil {
		t.Fatal(err)
	}
	cpu, _ := fs.systemCPU()
	u, err := fs.sample(d, cpu)
	if err != nil {
		t.Fatal(err)
	}
	want := Usage{Read: u.Read, CPUTotal: 2_500_000_000, SystemCPU: 1e10, OnlineCPUs: 2,
		MemUsage: 52428800, MemUsed: 52428800 - 2097152, MemLimit: 268435456,
		BlkRead: 1010, BlkWrite: 2020, PIDs: 3}
	if u != want {
		t.Errorf("got  %+v\nwant %+v", u, want)
	}

	// No memory limit: the host's memory, as dockerd says. A limit
	// changes with 'docker update', whose event resolves the container
	// again.
	os.WriteFile(filepath.Join(root, "sys/fs/cgroup", dir, "memory.max"), []byte("max\n"), 0o644)
	if d, err = fs.resolve(&Container{ID: testID, pid: 4242, netMode: "none"}); err != nil {
		t.Fatal(err)
	}
	if u, _ = fs.sample(d, cpu); u.MemLimit != 4<<30 || u.NetRx != 0 {
		t.Errorf("unlimited memory: limit %d, want the host's", u.MemLimit)
	}
}

// TestCgroupOnlyForTheContainersOwnProcess: a PID that is not the
// container's here (another host's numbering, a VM, a process that ended)
// is never read as the container.
func TestCgroupOnlyForTheContainersOwnProcess(t *testing.T) {
	files := procFiles("0::/system.slice/docker-" + strings.Repeat("f", 64) + ".scope\n")
	files["sys/fs/cgroup/cgroup.controllers"] = "cpu\n"
	root := hostTree(t, files)
	fs, err := openCgroupFS(filepath.Join(root, "sys/fs/cgroup"), filepath.Join(root, "proc"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Container{
		{ID: testID, pid: 4242}, // another container's process
		{ID: testID, pid: 4343}, // no such process
		{ID: testID},            // not running
	} {
		if _, err := fs.resolve(c); !errors.Is(err, errNotLocal) {
			t.Errorf("pid %d: %v, want errNotLocal", c.pid, err)
		}
	}
	if _, err := openCgroupFS(filepath.Join(root, "nowhere"), filepath.Join(root, "proc")); err == nil {
		t.Error("a host without cgroups opened")
	}
}

func TestSourceOfARound(t *testing.T) {
	v1 := &cgroupFS{}
	for _, c := range []struct {
		fs     *cgroupFS
		byFile []bool
		want   string
	}{
		{nil, []bool{false}, "api"},
		{v1, nil, "cgroup-v1"},
		{v1, []bool{true, true}, "cgroup-v1"},
		{v1, []bool{true, false}, "cgroup-v1+api"},
		{v1, []bool{false}, "api"},
	} {
		if got := sourceOf(c.fs, c.byFile); got != c.want {
			t.Errorf("sourceOf(%v, %v) = %s, want %s", c.fs != nil, c.byFile, got, c.want)
		}
	}
}

// TestReadALongFile: a file longer than the read buffer and than a page
// (a container with many interfaces) is read to its end.
func TestReadALongFile(t *testing.T) {
	var b strings.Builder
	b.WriteString("Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n")
	for i := range 100 {
		fmt.Fprintf(&b, "%6s: %8d 1 0 0 0 0 0 0 %8d 1 0 0 0 0 0 0\n", fmt.Sprintf("veth%d", i), 10, 20)
	}
	root := hostTree(t, map[string]string{"net/dev": b.String()})
	fs := &cgroupFS{}
	fs.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	var nets map[string]container.NetworkStats
	err := fs.readPath(filepath.Join(root, "net/dev"), func(b []byte) (err error) {
		nets, err = parseNetDev(b)
		return err
	})
	if err != nil || len(nets) != 100 || nets["veth99"].TxBytes != 20 {
		t.Errorf("%d interfaces (%v), veth99 %+v", len(nets), err, nets["veth99"])
	}
}
