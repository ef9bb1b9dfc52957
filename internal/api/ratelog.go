package api

import (
	"log/slog"
	"sync"
	"time"
)

// rateLog logs a warning at most once per key (a uid) per interval, with
// how many were left out since: an attacker's thousands of refused
// connections cost the log one line a minute, not one each.
type rateLog struct {
	log   *slog.Logger
	every time.Duration

	mu   sync.Mutex
	seen map[uint32]*rateEntry
}

type rateEntry struct {
	last    time.Time
	skipped int
}

// maxRateKeys bounds the map; uids are few on any host, but a stale
// entry is only worth keeping while its interval lasts.
const maxRateKeys = 4096

func newRateLog(log *slog.Logger, every time.Duration) *rateLog {
	return &rateLog{log: log, every: every, seen: map[uint32]*rateEntry{}}
}

func (r *rateLog) warn(key uint32, msg string, args ...any) {
	now := time.Now()
	r.mu.Lock()
	e := r.seen[key]
	if e == nil {
		if len(r.seen) >= maxRateKeys {
			for k, old := range r.seen {
				if now.Sub(old.last) >= r.every {
					delete(r.seen, k)
				}
			}
		}
		e = &rateEntry{}
		r.seen[key] = e
	} else if now.Sub(e.last) < r.every {
		e.skipped++
		r.mu.Unlock()
		return
	}
	skipped := e.skipped
	e.last, e.skipped = now, 0
	r.mu.Unlock()
	r.log.Warn(msg, append(args, "repeatsNotLogged", skipped, "logEvery", r.every)...)
}
