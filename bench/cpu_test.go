package bench

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// cpuMeter reads CPU time, which unlike throughput does not depend on what
// else the machine is doing: this process (HiveSync's server and, in the
// benchmarks, its clients), the child processes it waited for (pgbench), and
// the Postgres server the benchmark uses (the postmaster, its live backends,
// and the backends it has reaped).
type cpuMeter struct {
	postmaster int
}

// cpuSample is the CPU time used so far.
type cpuSample struct {
	self, children, postgres time.Duration
	// The whole machine's: time idle (all CPUs), time in soft interrupts
	// (where loopback TCP is processed, charged to no process), and all
	// time elapsed on all CPUs.
	idle, softirq, total time.Duration
}

func newCPUMeter(b *testing.B, url string) *cpuMeter {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(b, err)
	defer func() { _ = conn.Close(ctx) }()
	var backend int
	require.NoError(b, conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend))
	st, err := procStat(backend)
	require.NoError(b, err, "the Postgres server must run on this machine")
	return &cpuMeter{postmaster: st.ppid}
}

func (m *cpuMeter) read() cpuSample {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	s := cpuSample{self: rusageCPU(self), children: rusageCPU(children)}
	s.idle, s.softirq, s.total = machineCPU()
	if pm, err := procStat(m.postmaster); err == nil {
		s.postgres += pm.cpu + pm.reaped
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if st, err := procStat(pid); err == nil && st.ppid == m.postmaster {
			s.postgres += st.cpu
		}
	}
	return s
}

// settle waits until the postmaster has reaped the backends of closed
// connections (pgbench's), so their CPU time is counted.
func (m *cpuMeter) settle() {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		zombies := 0
		dirs, _ := filepath.Glob("/proc/[0-9]*")
		for _, d := range dirs {
			raw, err := os.ReadFile(d + "/stat")
			if err != nil {
				continue
			}
			rest := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
			if len(rest) > 1 && rest[0] == "Z" && rest[1] == strconv.Itoa(m.postmaster) {
				zombies++
			}
		}
		if zombies == 0 {
			time.Sleep(100 * time.Millisecond) // exits still under way
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s cpuSample) sub(o cpuSample) cpuSample {
	return cpuSample{
		self: s.self - o.self, children: s.children - o.children, postgres: s.postgres - o.postgres,
		idle: s.idle - o.idle, softirq: s.softirq - o.softirq, total: s.total - o.total,
	}
}

// idleShare is the share of the machine's CPU time that was idle.
func (s cpuSample) idleShare() float64 {
	if s.total <= 0 {
		return 0
	}
	return float64(s.idle) / float64(s.total)
}

// machineCPU reads the first line of /proc/stat: user nice system idle
// iowait irq softirq steal, in clock ticks.
func machineCPU() (idle, softirq, total time.Duration) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, 0
	}
	var ticks [8]int64
	for i := range ticks {
		ticks[i], _ = strconv.ParseInt(f[i+1], 10, 64)
	}
	var all int64
	for _, t := range ticks {
		all += t
	}
	return time.Duration(ticks[3]+ticks[4]) * clockTick, time.Duration(ticks[6]) * clockTick, time.Duration(all) * clockTick
}

func rusageCPU(r syscall.Rusage) time.Duration {
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// stat is what the benchmarks need of /proc/<pid>/stat.
type stat struct {
	ppid        int
	cpu, reaped time.Duration // own user+system time; that of reaped children
}

// clockTick is USER_HZ, 100 on Linux.
const clockTick = 10 * time.Millisecond

func procStat(pid int) (stat, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, err
	}
	// The command name (field 2) may hold spaces; fields after it are plain.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	num := func(i int) int64 { n, _ := strconv.ParseInt(f[i], 10, 64); return n }
	// f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14-17.
	return stat{
		ppid:   int(num(1)),
		cpu:    time.Duration(num(11)+num(12)) * clockTick,
		reaped: time.Duration(num(13)+num(14)) * clockTick,
	}, nil
}

// reportCPU reports CPU time per operation: the client and server
// processes' (HiveSync's own process, or pgbench) and Postgres's.
func reportCPU(b *testing.B, d cpuSample, ops int, client time.Duration) {
	b.ReportMetric(float64(client.Microseconds())/float64(ops), "app-cpu-us/op")
	b.ReportMetric(float64(d.postgres.Microseconds())/float64(ops), "pg-cpu-us/op")
	b.ReportMetric(float64((client+d.postgres).Microseconds())/float64(ops), "cpu-us/op")
}
