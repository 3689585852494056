package app

import (
	"log/slog"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// ServerGCPercent is the garbage collector's target (GOGC) a node runs with
// unless GOGC is set. Go's default, 100, suits a program whose heap is most
// of its memory; a node's live heap is small (caches are bounded, file
// contents pass through), so at 100 it collects every few hundred requests
// and the collector took about a sixth of the CPU of a save
// (BENCHMARKS.md). At 400 the heap may grow to five times the live data,
// with the soft memory limit below keeping that within the machine.
const ServerGCPercent = 400

// MemoryLimitRatio is the share of the container's memory (its cgroup
// limit, else the machine's) a node sets as its soft memory limit
// (GOMEMLIMIT) unless GOMEMLIMIT is set: near it the collector works harder
// instead of letting the heap grow. It leaves room for stacks, buffers and,
// on a single machine, Postgres.
const MemoryLimitRatio = 0.75

// TuneRuntime sets the garbage collector for a long-running node: GC
// percent ServerGCPercent unless the GOGC variable is set, and a soft
// memory limit of MemoryLimitRatio of the available memory unless
// GOMEMLIMIT is set (AUTOMEMLIMIT=off turns that off too). hivesyncd calls
// it before serving; the benchmarks call it to measure what runs.
func TuneRuntime(getenv func(string) string, log *slog.Logger) {
	from, percent := "GOGC", 0
	if getenv("GOGC") == "" {
		debug.SetGCPercent(ServerGCPercent)
		from, percent = "default", ServerGCPercent
	} else {
		percent = debug.SetGCPercent(-1) // reads the setting GOGC made...
		debug.SetGCPercent(percent)      // ...and puts it back
	}
	limit, err := memlimit.Set(
		memlimit.WithRatio(MemoryLimitRatio),
		memlimit.WithProvider(memlimit.ApplyFallback(memlimit.FromCgroup, memlimit.FromSystem)),
	)
	if err != nil {
		log.Warn("could not set a memory limit; the collector runs by GC percent alone", slog.String("error", err.Error()))
	}
	log.Info("garbage collector tuned", slog.Int("gc_percent", percent), slog.String("gc_percent_from", from),
		slog.Int64("memory_limit_bytes", limit))
}
