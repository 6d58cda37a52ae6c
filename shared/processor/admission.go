package processor

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/webtrack/webtrack/shared/apierror"
)

// admission keeps the bytes that requests hold at once within a budget, so
// that a burst of large batches waits instead of exhausting the instance's
// memory. A request reserves memory before it allocates it, step by step
// as it learns what it needs: its body as the bytes arrive, then what
// decoding that body takes, then its stored lines once their size is known.
// A request that sent no body bytes yet holds nothing, so idle uploads
// cannot lock others out.
//
// Growing reservations could deadlock: requests each holding part of the
// budget, all waiting for more. Two rules prevent it. Requests are ordered
// by when they first reserved (their ticket), and served in that order.
// The oldest open request may use the whole budget; every other request
// only the budget less headroom, the most one request can ever hold. So
// whatever the others hold, the oldest can always take all it will need,
// finish and let the next become the oldest: some request always makes
// progress, whatever the mix of sizes.
type admission struct {
	budget   int64 // zero: no budget
	headroom int64 // kept free for the oldest request: the most one request holds
	mu       sync.Mutex
	used     int64
	tickets  uint64
	open     []*reservation // the requests holding a ticket, oldest first
	queue    []*waiter      // by ticket
}

func newAdmission(budget, headroom int64) *admission {
	return &admission{budget: budget, headroom: min(headroom, budget)}
}

type waiter struct {
	r     *reservation
	n     int64
	ready chan struct{} // closed once n is granted
}

// reservation is what one request holds. Its zero value holds nothing; its
// first grow takes a ticket, and close returns everything.
type reservation struct {
	a      *admission
	n      int64
	ticket uint64
	opened bool
}

// grow adds n bytes to the reservation, waiting for room until ctx is done.
// A request that could never fit is refused at once.
func (r *reservation) grow(ctx context.Context, n int64) *apierror.Error {
	a := r.a
	if a.budget == 0 || n <= 0 {
		return nil
	}
	if r.n+n > a.budget {
		return apierror.New(apierror.PostBodyTooLarge, "the request needs %d bytes of memory in flight, more than the server's whole budget of %d (WEBTRACK_MAX_INFLIGHT_BYTES); send smaller batches", r.n+n, a.budget)
	}
	a.mu.Lock()
	if !r.opened {
		r.opened = true
		a.tickets++
		r.ticket = a.tickets
		a.open = append(a.open, r)
	}
	if (len(a.queue) == 0 || a.queue[0].r.ticket > r.ticket) && a.fits(r, n) {
		a.used += n
		a.mu.Unlock()
		r.n += n
		return nil
	}
	w := &waiter{r: r, n: n, ready: make(chan struct{})}
	at, _ := slices.BinarySearchFunc(a.queue, r.ticket, func(q *waiter, t uint64) int { return cmp.Compare(q.r.ticket, t) })
	a.queue = slices.Insert(a.queue, at, w)
	a.mu.Unlock()

	select {
	case <-w.ready:
		r.n += n
		return nil
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
	return apierror.New(apierror.ServerBusy, "the server is busy with other requests and had no room for this one in time; retry later")
}

// resize makes the reservation n bytes: it gives back what it holds beyond
// n, or grows to n.
func (r *reservation) resize(ctx context.Context, n int64) *apierror.Error {
	if n >= r.n {
		return r.grow(ctx, n-r.n)
	}
	r.shrink(r.n - n)
	return nil
}

// shrink gives back n of the bytes the reservation holds.
func (r *reservation) shrink(n int64) {
	n = min(n, r.n)
	if n <= 0 {
		return
	}
	r.n -= n
	r.a.mu.Lock()
	r.a.used -= n
	r.a.grant()
	r.a.mu.Unlock()
}

// close gives back everything and the ticket.
func (r *reservation) close() {
	if !r.opened {
		return
	}
	a := r.a
	a.mu.Lock()
	a.used -= r.n
	a.open = slices.DeleteFunc(a.open, func(o *reservation) bool { return o == r })
	a.grant()
	a.mu.Unlock()
	r.n, r.opened = 0, false
}

// fits says whether r may take n more bytes now: the oldest open request
// within the whole budget, any other within the budget less headroom.
func (a *admission) fits(r *reservation, n int64) bool {
	limit := a.budget
	if a.open[0] != r {
		limit -= a.headroom
	}
	return a.used+n <= limit
}

// grant admits waiters in ticket order while they fit.
func (a *admission) grant() {
	for len(a.queue) > 0 && a.fits(a.queue[0].r, a.queue[0].n) {
		w := a.queue[0]
		a.queue = a.queue[1:]
		a.used += w.n
		close(w.ready)
	}
}

// The memory a request holds, counted before it is allocated. While its
// body is read: the bytes that have arrived, in a buffer that doubles.
// While it is decoded: the body, its decompressed form (of the declared
// size, which the decoder enforces), the encoder's fields (encoderCost) and
// then the lines, whose size the encoder knows before it allocates them.
// While it is stored: the lines, a group commit's copy of them and their
// compressed form.
const overhead = 32 << 10

// encoderCost bounds what the encoder holds for a raw body of n bytes: its
// copy of every field, with quotes added to numbers, tags prefixed with
// __tag__: (at most three times the raw bytes they came from, for a tag
// "":0), and one value unescaped or compacted at a time.
func encoderCost(n int) int64 { return 4 * int64(n) }

func storeCost(lines int) int64 { return int64(2*lines+lines/4) + overhead }

// getCost is what a GET request holds: the query, its fields and its line.
const getCost = 3*MaxQueryBytes + overhead

// MaxRequestCost is the most memory one request may hold with these
// limits, and so the smallest WEBTRACK_MAX_INFLIGHT_BYTES that admits every
// valid request: the largest body as sent (an lz4 block of maxBodyBytes),
// decompressed, encoded and turned into the most lines the limits allow;
// or those lines being stored; or the body's buffer doubling while it is
// read.
func MaxRequestCost(maxBodyBytes, maxEntries int) int64 {
	body := int64(maxRequestBytes(maxBodyBytes)) + 1
	lines := maxOutputBytes(maxBodyBytes, maxEntries)
	decode := body + int64(maxBodyBytes) + encoderCost(maxBodyBytes) + int64(lines) + overhead
	return max(decode, storeCost(lines), 2*body+overhead, getCost)
}
