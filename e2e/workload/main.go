// Command workload is the program inside the e2e test image (FROM scratch):
// it burns CPU, holds memory, writes a file and sleeps, so that the tests
// know what numbers monctl must show. It is built static (CGO_ENABLED=0).
//
//	workload [-burn N] [-hold MiB] [-write MiB] [-children N] [-exit-after D]
//	         [-log-lines N -log-rate PER_SECOND] [-log-long BYTES]
//	         [-http ADDR [-path PATH]]
//	workload -health   (exit 0: the HEALTHCHECK command)
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	burn := flag.Int("burn", 0, "goroutines that each keep one CPU busy")
	hold := flag.Int("hold", 0, "MiB of memory to allocate, touch and keep")
	write := flag.Int("write", 0, "MiB to write (synced) to -file")
	file := flag.String("file", "/data.bin", "file that -write writes")
	children := flag.Int("children", 0, "child processes that only sleep")
	exitAfter := flag.Duration("exit-after", 0, "exit 1 after this long (0: never)")
	health := flag.Bool("health", false, "exit 0 at once (the HEALTHCHECK probe)")
	sleepOnly := flag.Bool("sleep", false, "only sleep (the child mode)")
	logLines := flag.Int("log-lines", 0, "lines to print, odd ones to stdout, even ones to stderr, some with HTML and terminal escapes")
	logRate := flag.Float64("log-rate", 100, "lines per second of -log-lines")
	logExit := flag.Bool("log-exit", false, "exit 0 once the -log-lines are printed")
	logOnUSR1 := flag.Bool("log-on-usr1", false, "print the -log-lines once SIGUSR1 comes (docker kill -s USR1), so that many containers start together")
	logPad := flag.Int("log-pad", 0, "pad each of the -log-lines with words to this many bytes")
	logLong := flag.Int("log-long", 0, "print one line of this many bytes (0123456789 over and over) to stdout, then 'after the long line'")
	httpAddr := flag.String("http", "", "serve an exposition on this address (127.0.0.1:PORT, with --network host: a target to discover)")
	httpPath := flag.String("path", "/metrics", "the path of -http's exposition")
	flag.Parse()
	if *health {
		return
	}
	if *sleepOnly {
		select {}
	}

	for range *burn {
		go spin()
	}
	var kept [][]byte
	for range *hold {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1 // touch every page so it is resident
		}
		kept = append(kept, b)
	}
	if *write > 0 {
		if err := writeFile(*file, *write); err != nil {
			fmt.Fprintln(os.Stderr, "workload:", err)
			os.Exit(1)
		}
	}
	for range *children {
		c := exec.Command(os.Args[0], "-sleep")
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "workload:", err)
			os.Exit(1)
		}
	}
	fmt.Println("workload ready")
	if *logLong > 0 {
		os.Stdout.Write(longLine(*logLong))
		fmt.Println("after the long line")
	}
	usr1 := make(chan os.Signal, 1)
	if *logOnUSR1 {
		signal.Notify(usr1, syscall.SIGUSR1)
	}
	print := func() {
		if *logOnUSR1 {
			<-usr1
		}
		printLines(*logLines, *logRate, *logPad)
	}
	if *logLines > 0 && *logExit {
		print()
		os.Exit(0)
	}
	if *logLines > 0 {
		go print()
	}
	if *httpAddr != "" {
		go serveExposition(*httpAddr, *httpPath)
	}
	if *exitAfter > 0 {
		time.Sleep(*exitAfter)
		os.Exit(1)
	}
	for {
		time.Sleep(time.Hour)
		runtime.KeepAlive(kept)
	}
}

// serveExposition serves, at path, a counter of the scrapes so far and
// the host name, so that a test knows which container it reached.
func serveExposition(addr, path string) {
	var scrapes atomic.Int64
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE workload_scrapes_total counter\nworkload_scrapes_total %d\n# TYPE workload_info gauge\nworkload_info{hostname=%q} 1\n", scrapes.Add(1), host)
	})
	if err := http.ListenAndServe(addr, mux); err != nil {
		fmt.Fprintln(os.Stderr, "workload:", err)
		os.Exit(1)
	}
}

func spin() {
	x := 0
	for {
		x++
	}
}

// writeFile writes mib MiB and syncs after each MiB, so the writes reach the
// disk from this process and count in its cgroup's block I/O.
func writeFile(path string, mib int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	for range mib {
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// printLines prints n numbered lines at rate a second: odd ones to
// stdout, even ones to stderr; every tenth holds HTML and a terminal
// escape, which must reach a reader as text. With pad, words fill each
// line up to pad bytes.
func printLines(n int, rate float64, pad int) {
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for i := 1; i <= n; i++ {
		<-tick.C
		text := fmt.Sprintf("line %d", i)
		if i%10 == 0 {
			text += " <img src=x onerror=alert(1)> \x1b[31mred\x1b[0m"
		}
		for len(text)+6 < pad {
			text += " word"
		}
		if i%2 == 1 {
			fmt.Fprintln(os.Stdout, text+" out")
		} else {
			fmt.Fprintln(os.Stderr, text+" err")
		}
	}
}

// longLine is a line of n bytes before its newline, 0123456789 over and
// over: the engine's log driver cuts it into messages of 16 KiB.
func longLine(n int) []byte {
	b := make([]byte, n+1)
	for i := range n {
		b[i] = '0' + byte(i%10)
	}
	b[n] = '\n'
	return b
}
