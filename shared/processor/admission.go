package processor

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/webtrack/webtrack/shared/apierror"
)

// admission keeps the bytes that requests hold at once within a budget, so
// that a burst of large batches waits instead of exhausting the instance's
// memory. Each request reserves what it will hold before it allocates it.
// Waiters are served in order of arrival, so a large request is not starved
// by small ones; a request that grows its reservation goes first, since it
// already holds memory that others wait for.
type admission struct {
	budget int64 // zero: no budget
	mu     sync.Mutex
	used   int64
	queue  []*waiter
}

type waiter struct {
	n     int64
	ready chan struct{} // closed once n is granted
}

// reservation is what one admitted request holds; release returns it.
type reservation struct {
	a *admission
	n int64
}

// admit reserves n bytes, waiting for room until ctx is done. A request
// that could never fit is refused at once.
func (a *admission) admit(ctx context.Context, n int64) (reservation, *apierror.Error) {
	r := reservation{a: a}
	return r, r.reserve(ctx, n, false)
}

// resize makes the reservation n bytes: it gives back what it holds beyond
// n, or takes the rest ahead of requests not yet admitted, since it holds
// memory that they wait for.
func (r *reservation) resize(ctx context.Context, n int64) *apierror.Error {
	if r.a.budget == 0 {
		return nil
	}
	if n < r.n {
		r.a.give(r.n - n)
		r.n = n
		return nil
	}
	return r.reserve(ctx, n-r.n, true)
}

func (r *reservation) reserve(ctx context.Context, n int64, first bool) *apierror.Error {
	a := r.a
	if a.budget == 0 || n <= 0 {
		return nil
	}
	if r.n+n > a.budget {
		return apierror.New(apierror.PostBodyTooLarge, "the request needs %d bytes of memory in flight, more than the server's whole budget of %d (WEBTRACK_MAX_INFLIGHT_BYTES); send smaller batches", r.n+n, a.budget)
	}
	if !a.wait(ctx, n, first) {
		return apierror.New(apierror.ServerBusy, "the server is busy with other requests and had no room for this one in time; retry later")
	}
	r.n += n
	return nil
}

// wait takes n bytes of the budget, waiting in the queue (at its head if
// first) until they are free or ctx is done. It says whether it took them.
func (a *admission) wait(ctx context.Context, n int64, first bool) bool {
	a.mu.Lock()
	if (first || len(a.queue) == 0) && a.used+n <= a.budget {
		a.used += n
		a.mu.Unlock()
		return true
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	if first {
		a.queue = append([]*waiter{w}, a.queue...)
	} else {
		a.queue = append(a.queue, w)
	}
	a.mu.Unlock()
	select {
	case <-w.ready:
		return true
	case <-ctx.Done():
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case <-w.ready: // granted while giving up: give it back
		a.used -= n
	default:
		a.queue = slices.DeleteFunc(a.queue, func(q *waiter) bool { return q == w })
	}
	a.grant()
	return false
}

// grant admits waiters from the head of the queue while they fit.
func (a *admission) grant() {
	for len(a.queue) > 0 && a.used+a.queue[0].n <= a.budget {
		w := a.queue[0]
		a.queue = a.queue[1:]
		a.used += w.n
		close(w.ready)
	}
}

func (r *reservation) release() {
	if r.n > 0 {
		r.a.give(r.n)
		r.n = 0
	}
}

// give returns n bytes to the budget and admits whoever they let in.
func (a *admission) give(n int64) {
	a.mu.Lock()
	a.used -= n
	a.grant()
	a.mu.Unlock()
}

// The memory a request holds: while it is parsed, the body as sent, its
// decompressed form, the encoder's copy of the fields (about the raw size)
// and the lines; while it is stored, the lines, a group commit's copy of
// them and their compressed form.
const overhead = 32 << 10

func parseCost(body, decompressed, raw, lines int) int64 {
	return int64(body+decompressed+raw+lines) + overhead
}

func storeCost(lines int) int64 { return int64(2*lines+lines/4) + overhead }

// estimatedCost is what a request will hold at most, known before its body
// is read, taking its lines to be an eighth larger than its raw body. Once
// they are built, the reservation is resized to what storing them takes.
func estimatedCost(req *Request, maxRequestBytes, maxBodyBytes int) int64 {
	if req.Method == http.MethodGet {
		return parseCost(0, 0, MaxQueryBytes, 2*MaxQueryBytes)
	}
	body := len(req.Body)
	if req.BodyReader != nil {
		body = maxRequestBytes
		if req.ContentLength >= 0 && req.ContentLength < int64(maxRequestBytes) {
			body = int(req.ContentLength)
		}
	}
	raw, decompressed := body, 0
	if req.Header.Get("X-Log-Compresstype") != "" {
		n, err := strconv.Atoi(strings.TrimSpace(req.Header.Get("X-Log-Bodyrawsize")))
		if err != nil || n < 0 || n > maxBodyBytes {
			n = 0 // the decoder refuses the request before it allocates
		}
		raw, decompressed = n, n
	}
	lines := raw + raw/8
	return max(parseCost(body, decompressed, raw, lines), storeCost(lines))
}
