package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuTicks is the user and system CPU time, in clock ticks (1/100 s on Linux), of
// every process that is pid or whose command is named comm.
func cpuTicks(pid int, comm string) int64 {
	entries, _ := os.ReadDir("/proc")
	var total int64
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid … utime(14) stime(15): comm may hold spaces
		s := string(data)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		if n != pid && s[open+1:close] != comm {
			continue
		}
		f := strings.Fields(s[close+1:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += u + st
	}
	return total
}

// cpuShare is where the machine's CPU went during a run, in cores.
type cpuShare struct {
	runtime, postgres, generator, elapsed float64
}

func (c cpuShare) String() string {
	return fmt.Sprintf("runtime %.2f, PostgreSQL %.2f, load generator %.2f cores", c.runtime, c.postgres, c.generator)
}

// measureCPU runs f and returns the cores each party used meanwhile.
func measureCPU(runtimePid int, f func()) cpuShare {
	self := os.Getpid()
	r0, p0, g0 := cpuTicks(runtimePid, ""), cpuTicks(0, "postgres"), cpuTicks(self, "")
	start := time.Now()
	f()
	el := time.Since(start).Seconds()
	r1, p1, g1 := cpuTicks(runtimePid, ""), cpuTicks(0, "postgres"), cpuTicks(self, "")
	return cpuShare{runtime: float64(r1-r0) / 100 / el, postgres: float64(p1-p0) / 100 / el, generator: float64(g1-g0) / 100 / el, elapsed: el}
}

// profile takes a CPU profile of the runtime (served on --pprof-listen) for d,
// while f runs, and returns pprof's top functions by cumulative time.
func profile(ctx context.Context, pprofAddr, dir, name string, d time.Duration, f func()) (string, error) {
	done := make(chan error, 1)
	path := filepath.Join(dir, "peak-"+name+".pprof")
	go func() {
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, int(d.Seconds())))
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		out, err := os.Create(path)
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(out, resp.Body)
		out.Close()
		done <- err
	}()
	f()
	if err := <-done; err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=40", path).Output()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w", err)
	}
	top := filepath.Join(dir, "peak-"+name+".top.txt")
	_ = os.WriteFile(top, out, 0o644)
	return top, nil
}
