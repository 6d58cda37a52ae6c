// Package compact turns many small deliveries of a queue (the messages that
// the sqs:// sink sends, the records that the kafka:// sink produces) into one
// object per partition, stored through an object sink with the keys,
// compression and line format of the ingest path. It knows no provider:
// handler/queueevent turns Lambda's queue events into Units.
//
// Two units with the same (RequestID, Seq) are copies of one piece of a
// write, delivered twice; one is kept. An object's key derives from what it
// holds: its request id is objectlayout.ContentID of its units' pairs and its
// time the earliest receive time among them, so storing the same units again
// replaces the object rather than adding a second one.
package compact

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/webtrack/webtrack/shared/names"
	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
)

// Unit is one delivery from a queue: a run of whole lines of one write.
type Unit struct {
	// ID names the delivery to the queue, in logs and failure reports: an
	// SQS message id, a Kafka record's topic-partition@offset.
	ID                string
	Project, Logstore string
	// RequestID and Seq name the piece of the write: the write's request id
	// and its part (SQS) or entry (Kafka). Units with the same pair are
	// copies.
	RequestID string
	Seq       int
	// NDJSON is one or more lines, each a JSON object ending in '\n'.
	NDJSON []byte
	// Sent is when the queue took the unit. It places the unit in an hour
	// when its first line has no __tag__:__receive_time__.
	Sent time.Time
}

// Result is what came of a Compact call.
type Result struct {
	// Poison lists the ids of the units that are not what a webtrack sink
	// writes, and Unstored those whose partition failed to store; each in
	// the order given.
	Poison, Unstored []string
	// Units counts the units given and Duplicates the copies among them.
	Units, Duplicates int
	// Objects, Entries and Bytes (NDJSON, before compression) count what
	// was stored.
	Objects, Entries, Bytes int
}

// maxParallelPuts bounds the objects written at once.
const maxParallelPuts = 4

// Compactor stores units through an object sink.
type Compactor struct {
	sink    sink.Sink
	timeout time.Duration
}

// New returns a Compactor that stores through s, giving up on the writes of
// one Compact call after timeout, or processor.DefaultResponseMargin before
// its context's deadline.
func New(s sink.Sink, timeout time.Duration) *Compactor {
	return &Compactor{sink: s, timeout: timeout}
}

// Close closes the sink.
func (c *Compactor) Close() error { return c.sink.Close() }

// item is a unit that passed its checks.
type item struct {
	u     *Unit
	index int   // its place among the units given
	at    int64 // its receive time, unix seconds
	lines int
}

func (it *item) hour() int64 { return it.at / 3600 }

// partition is the items of one object.
type partition struct {
	items []item // sorted, copies included
	// kept is items without copies: the first of each (RequestID, Seq);
	// entries and bytes count its lines and their NDJSON.
	kept           []item
	entries, bytes int
	err            error
}

func newPartition(items []item) *partition {
	p := &partition{items: items, kept: make([]item, 0, len(items))}
	for i, it := range items {
		if i > 0 && it.u.RequestID == items[i-1].u.RequestID && it.u.Seq == items[i-1].u.Seq {
			continue
		}
		p.kept = append(p.kept, it)
		p.entries += it.lines
		p.bytes += len(it.u.NDJSON)
	}
	return p
}

// Compact stores the units, one object per partition (project, logstore and
// the UTC hour of the receive time), and reports the units that are poison
// or whose partition failed, logging each to log. Each object is written
// whole or not at all.
func (c *Compactor) Compact(ctx context.Context, units []Unit, log *slog.Logger) Result {
	res := Result{Units: len(units)}
	items := make([]item, 0, len(units))
	for i := range units {
		u := &units[i]
		at, lines, err := check(u)
		if err != nil {
			log.Warn("poison message: not what a webtrack sink writes", "message_id", u.ID, "reason", err.Error())
			res.Poison = append(res.Poison, u.ID)
			continue
		}
		items = append(items, item{u: u, index: i, at: at, lines: lines})
	}
	slices.SortFunc(items, func(a, b item) int {
		return cmp.Or(cmp.Compare(a.u.Project, b.u.Project), cmp.Compare(a.u.Logstore, b.u.Logstore),
			cmp.Compare(a.hour(), b.hour()), cmp.Compare(a.u.RequestID, b.u.RequestID),
			cmp.Compare(a.u.Seq, b.u.Seq), cmp.Compare(a.index, b.index))
	})
	var parts []*partition
	for start := 0; start < len(items); {
		end := start + 1
		for end < len(items) && samePartition(&items[start], &items[end]) {
			end++
		}
		parts = append(parts, newPartition(items[start:end]))
		start = end
	}

	putCtx, cancel := context.WithDeadline(ctx, sink.Deadline(ctx, c.timeout, processor.DefaultResponseMargin))
	defer cancel()
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxParallelPuts)
	for _, p := range parts {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			p.err = c.store(putCtx, p)
		})
	}
	wg.Wait()

	failed := make([]bool, len(units))
	for _, p := range parts {
		res.Duplicates += len(p.items) - len(p.kept)
		if p.err != nil {
			first := p.items[0]
			log.Error("partition not stored; its messages come back", "project", first.u.Project, "logstore", first.u.Logstore,
				"hour", time.Unix(first.hour()*3600, 0).UTC().Format(time.RFC3339), "messages", len(p.items), "err", p.err)
			for _, it := range p.items {
				failed[it.index] = true
			}
			continue
		}
		res.Objects++
		res.Entries += p.entries
		res.Bytes += p.bytes
	}
	for i, f := range failed {
		if f {
			res.Unstored = append(res.Unstored, units[i].ID)
		}
	}
	return res
}

func samePartition(a, b *item) bool {
	return a.u.Project == b.u.Project && a.u.Logstore == b.u.Logstore && a.hour() == b.hour()
}

// store writes the partition as one object, under a key that follows from
// its content.
func (c *Compactor) store(ctx context.Context, p *partition) error {
	ids := make([]string, len(p.kept))
	ndjson := make([]byte, 0, p.bytes)
	earliest := p.kept[0].at
	for i, it := range p.kept {
		ids[i] = it.u.RequestID + "/" + strconv.Itoa(it.u.Seq)
		ndjson = append(ndjson, it.u.NDJSON...)
		earliest = min(earliest, it.at)
	}
	return c.sink.Put(ctx, &sink.Batch{
		Project:    p.kept[0].u.Project,
		Logstore:   p.kept[0].u.Logstore,
		RequestID:  objectlayout.ContentID(ids),
		ReceivedAt: time.Unix(earliest, 0),
		Entries:    p.entries,
		NDJSON:     ndjson,
	})
}

// receiveTimeKey starts the receive time's member in a stored line. In a
// valid line it can only be a member name: a quote inside a string value is
// escaped.
var receiveTimeKey = []byte(`"__tag__:__receive_time__":"`)

// check says whether u is what a webtrack sink writes, and returns its
// receive time (from its first line, else when it was sent) and its number
// of lines.
func check(u *Unit) (at int64, lines int, err error) {
	switch {
	case !names.Project(u.Project):
		return 0, 0, fmt.Errorf("project %q is not a project name", u.Project)
	case !names.Logstore(u.Logstore):
		return 0, 0, fmt.Errorf("logstore %q is not a logstore name", u.Logstore)
	case !names.RequestID(u.RequestID):
		return 0, 0, fmt.Errorf("request id %q: want 1 to 64 letters, digits and '-'", u.RequestID)
	case u.Seq < 0:
		return 0, 0, fmt.Errorf("negative sequence number %d", u.Seq)
	case len(u.NDJSON) == 0 || u.NDJSON[len(u.NDJSON)-1] != '\n':
		return 0, 0, errors.New("the body is not NDJSON: empty, or its last line has no newline")
	}
	at = -1
	for rest := u.NDJSON; len(rest) > 0; lines++ {
		i := bytes.IndexByte(rest, '\n')
		line := jsontext.Value(rest[:i])
		if !line.IsValid() || line.Kind() != '{' {
			return 0, 0, fmt.Errorf("line %d is not a JSON object in valid UTF-8", lines+1)
		}
		if lines == 0 {
			if at, err = receiveTime(line); err != nil {
				return 0, 0, err
			}
		}
		rest = rest[i+1:]
	}
	if at < 0 {
		if u.Sent.IsZero() {
			return 0, 0, errors.New("no __tag__:__receive_time__ and no time sent")
		}
		at = u.Sent.Unix()
	}
	return at, lines, nil
}

// receiveTime returns the line's __tag__:__receive_time__ in unix seconds,
// or -1 when it has none.
func receiveTime(line []byte) (int64, error) {
	i := bytes.Index(line, receiveTimeKey)
	if i < 0 {
		return -1, nil
	}
	v := line[i+len(receiveTimeKey):]
	end := bytes.IndexByte(v, '"')
	t, err := strconv.ParseInt(string(v[:max(end, 0)]), 10, 64)
	if end < 0 || err != nil || t < 0 {
		return 0, fmt.Errorf("__tag__:__receive_time__ %q is not unix seconds", v)
	}
	return t, nil
}
