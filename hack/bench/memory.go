package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// memory reads the operator's memory and CPU with every object converged and cached.
func (b *bench) memory(context.Context) error {
	time.Sleep(2 * time.Second)
	m, err := scrape(b.metricsAddr)
	if err != nil {
		return fmt.Errorf("reading the operator's metrics: %w", err)
	}
	b.res.RSSMiB = m["process_resident_memory_bytes"] / (1 << 20)
	b.res.HeapMiB = m["go_memstats_heap_alloc_bytes"] / (1 << 20)
	b.res.CPUSeconds = m["process_cpu_seconds_total"]
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.w.OperatorPID())); err == nil {
		for line := range strings.Lines(string(status)) {
			name, value, _ := strings.Cut(line, ":")
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
			switch {
			case err != nil:
			case name == "RssAnon":
				b.res.RSSAnonMiB = kb / 1024
			case name == "RssFile":
				b.res.RSSFileMiB = kb / 1024
			}
		}
	}
	if b.o.heapProfile {
		return b.saveHeapProfile()
	}
	return nil
}

// saveHeapProfile fetches the operator's heap profile, after a collection, into
// the results folder.
func (b *bench) saveHeapProfile() error {
	resp, err := http.Get("http://" + b.pprofAddr + "/debug/pprof/heap?gc=1")
	if err != nil {
		return fmt.Errorf("reading the operator's heap profile: %w", err)
	}
	defer resp.Body.Close()
	if err := os.MkdirAll(b.o.out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(b.o.out, fmt.Sprintf("heap-%d.pprof", b.o.entries))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		return err
	}
	say("heap profile in %s", path)
	return nil
}

// scrape reads the operator's Prometheus metrics (unlabelled samples only).
func scrape(addr string) (map[string]float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}
