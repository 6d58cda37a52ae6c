package compact_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/compact"
	"github.com/webtrack/webtrack/shared/sink/filesink"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

// t0 is 21:30:00 UTC: t0+3600 is in the next hour.
const t0 = 1795642200

// line is a stored line of request id received at recv.
func line(id string, recv int64, i int) string {
	return fmt.Sprintf(`{"__time__":%d,"__topic__":"web","__source__":"browser","__tag__:__request_id__":"%s","__tag__:__client_ip__":"203.0.113.7","__tag__:__receive_time__":"%d","i":"%d"}`,
		recv, id, recv, i) + "\n"
}

// unit is the part seq of request id in logstore, with lines lines.
func unit(msgID, logstore, id string, seq int, recv int64, lines int) compact.Unit {
	var nd strings.Builder
	for i := range lines {
		nd.WriteString(line(id, recv, seq*100+i))
	}
	return compact.Unit{ID: msgID, Project: "default", Logstore: logstore, RequestID: id, Seq: seq, NDJSON: []byte(nd.String())}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func fileSink(t *testing.T) (*filesink.Sink, string) {
	dir := t.TempDir()
	s, err := filesink.New(dir, objectlayout.Layout{Compression: objectlayout.Gzip})
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func readAll(t *testing.T, dir string) []sinktest.Object {
	t.Helper()
	objects, err := sinktest.ReadFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	return objects
}

func TestCompactGroupsByPartition(t *testing.T) {
	s, dir := fileSink(t)
	c := compact.New(s, 10*time.Second)
	units := []compact.Unit{
		unit("m1", "web", "REQB", 2, t0+5, 2),
		unit("m2", "web", "REQA", 1, t0+9, 3),
		unit("m3", "app-logs", "REQC", 1, t0+1, 1),
		unit("m4", "web", "REQB", 1, t0+5, 2),
		unit("m5", "web", "REQD", 1, t0+3600, 1), // the next hour
	}
	res := c.Compact(context.Background(), units, quiet())
	if len(res.Poison)+len(res.Unstored) != 0 || res.Objects != 3 || res.Entries != 9 || res.Duplicates != 0 || res.Units != 5 {
		t.Fatalf("result %+v, want 3 objects of 9 entries and no failures", res)
	}
	objects := readAll(t, dir)
	var keys []string
	for _, o := range objects {
		keys = append(keys, o.Key)
	}
	// Keys: the earliest receive time, and the content id of the pairs.
	want := []string{
		fmt.Sprintf("project=default/logstore=app-logs/dt=2026-11-25/hour=21/%d000000000-%s.ndjson.gz", t0+1, objectlayout.ContentID([]string{"REQC/1"})),
		fmt.Sprintf("project=default/logstore=web/dt=2026-11-25/hour=21/%d000000000-%s.ndjson.gz", t0+5, objectlayout.ContentID([]string{"REQA/1", "REQB/1", "REQB/2"})),
		fmt.Sprintf("project=default/logstore=web/dt=2026-11-25/hour=22/%d000000000-%s.ndjson.gz", t0+3600, objectlayout.ContentID([]string{"REQD/1"})),
	}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys\n%s\nwant\n%s", strings.Join(keys, "\n"), strings.Join(want, "\n"))
	}
	// Within an object: by request id, each write's parts in order.
	wantWeb := string(units[1].NDJSON) + string(units[3].NDJSON) + string(units[0].NDJSON)
	if got := string(objects[1].NDJSON); got != wantWeb {
		t.Errorf("web object holds\n%s\nwant\n%s", got, wantWeb)
	}

	// The same units again, in another order: the same objects, replaced.
	slices.Reverse(units)
	if res := c.Compact(context.Background(), units, quiet()); res.Objects != 3 {
		t.Fatalf("second compaction: %+v", res)
	}
	again := readAll(t, dir)
	if len(again) != 3 || again[1].Key != objects[1].Key || string(again[1].NDJSON) != wantWeb {
		t.Errorf("the same units stored again make other objects: %d objects, %s", len(again), again[1].Key)
	}
}

func TestCompactDropsCopies(t *testing.T) {
	s, dir := fileSink(t)
	c := compact.New(s, 10*time.Second)
	res := c.Compact(context.Background(), []compact.Unit{
		unit("m1", "web", "REQA", 1, t0, 2),
		unit("m2", "web", "REQA", 2, t0, 2),
		unit("m3", "web", "REQA", 1, t0, 2), // m1 delivered twice
	}, quiet())
	if res.Duplicates != 1 || res.Objects != 1 || res.Entries != 4 {
		t.Errorf("result %+v, want 1 duplicate dropped, 1 object of 4 entries", res)
	}
	objects := readAll(t, dir)
	if len(objects) != 1 || strings.Count(string(objects[0].NDJSON), "\n") != 4 {
		t.Errorf("stored %+v, want one object of 4 lines", objects)
	}
	if id := objectlayout.RequestID(objects[0].Key); id != objectlayout.ContentID([]string{"REQA/1", "REQA/2"}) {
		t.Errorf("the copy changed the key's content id: %s", objects[0].Key)
	}
}

func TestCompactPoison(t *testing.T) {
	s, dir := fileSink(t)
	c := compact.New(s, 10*time.Second)
	good := unit("good", "web", "REQA", 1, t0, 2)
	bad := func(id string, change func(u *compact.Unit)) compact.Unit {
		u := unit(id, "web", "REQB", 1, t0, 1)
		change(&u)
		return u
	}
	body := func(s string) func(*compact.Unit) { return func(u *compact.Unit) { u.NDJSON = []byte(s) } }
	units := []compact.Unit{
		bad("no-project", func(u *compact.Unit) { u.Project = "" }),
		bad("key-escape", func(u *compact.Unit) { u.Logstore = "../web" }),
		bad("no-request", func(u *compact.Unit) { u.RequestID = "" }),
		bad("slash-request", func(u *compact.Unit) { u.RequestID = "A/1" }),
		good,
		bad("empty", body("")),
		bad("no-newline", body(`{"a":"b"}`)),
		bad("not-json", body("{\"a\":\"b\"}\nnot json\n")),
		bad("array", body("[1,2]\n")),
		bad("blank-line", body("{\"a\":\"b\"}\n\n")),
		bad("two-values", body("{\"a\":\"b\"}{\"c\":\"d\"}\n")),
		bad("bad-utf8", body("{\"a\":\"\xff\"}\n")),
		bad("bad-receive-time", body(`{"__tag__:__receive_time__":"soon"}`+"\n")),
		bad("no-time", body(`{"a":"b"}`+"\n")),
		bad("negative-seq", func(u *compact.Unit) { u.Seq = -1 }),
	}
	res := c.Compact(context.Background(), units, quiet())
	var want []string
	for _, u := range units {
		if u.ID != "good" {
			want = append(want, u.ID)
		}
	}
	if !slices.Equal(res.Poison, want) || len(res.Unstored) != 0 {
		t.Errorf("poison %q, unstored %q; want poison %q", res.Poison, res.Unstored, want)
	}
	objects := readAll(t, dir)
	if len(objects) != 1 || string(objects[0].NDJSON) != string(good.NDJSON) {
		t.Errorf("stored %+v, want the good unit alone", objects)
	}
}

func TestCompactTimeWithoutReceiveTag(t *testing.T) {
	s, dir := fileSink(t)
	c := compact.New(s, 10*time.Second)
	u := compact.Unit{ID: "m1", Project: "default", Logstore: "web", RequestID: "REQA", Seq: 1,
		NDJSON: []byte(`{"__time__":1,"a":"b"}` + "\n"), Sent: time.Unix(t0+3600, 250e6)}
	if res := c.Compact(context.Background(), []compact.Unit{u}, quiet()); res.Objects != 1 {
		t.Fatalf("result %+v", res)
	}
	objects := readAll(t, dir)
	if want := fmt.Sprintf("/hour=22/%d000000000-", t0+3600); len(objects) != 1 || !strings.Contains(objects[0].Key, want) {
		t.Errorf("stored %+v, want a key with %s: the time sent, in whole seconds", objects, want)
	}
}

func TestCompactReportsOnlyFailedPartitions(t *testing.T) {
	s, dir := fileSink(t)
	c := compact.New(sinktest.LogstoreDown{Sink: s, Logstore: "bad"}, 10*time.Second)
	units := []compact.Unit{
		unit("w1", "web", "REQA", 1, t0, 1),
		unit("b1", "bad", "REQB", 1, t0, 1),
		unit("w2", "web", "REQC", 1, t0, 1),
		unit("b2", "bad", "REQD", 1, t0, 1),
		unit("b3", "bad", "REQB", 1, t0, 1), // a copy of b1: it comes back too
		{ID: "p1", Project: "default", Logstore: "bad", RequestID: "REQE", NDJSON: []byte("x\n")},
	}
	res := c.Compact(context.Background(), units, quiet())
	if want := []string{"b1", "b2", "b3"}; !slices.Equal(res.Unstored, want) || !slices.Equal(res.Poison, []string{"p1"}) {
		t.Errorf("unstored %q, poison %q; want unstored %q, poison [p1]", res.Unstored, res.Poison, want)
	}
	if res.Objects != 1 || res.Entries != 2 {
		t.Errorf("result %+v, want one object of 2 entries", res)
	}
	if objects := readAll(t, dir); len(objects) != 1 || !strings.Contains(objects[0].Key, "logstore=web/") {
		t.Errorf("stored %+v, want the web object alone", objects)
	}
}

func TestCompactKeepsTimeToAnswer(t *testing.T) {
	s, dir := fileSink(t)
	c := compact.New(s, 10*time.Second)
	// Less than the 300ms kept to answer the invocation: nothing is tried.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res := c.Compact(ctx, []compact.Unit{unit("m1", "web", "REQA", 1, t0, 1)}, quiet())
	if !slices.Equal(res.Unstored, []string{"m1"}) || res.Objects != 0 {
		t.Errorf("result %+v, want m1 unstored", res)
	}
	if objects := readAll(t, dir); len(objects) != 0 {
		t.Errorf("stored %d objects past the deadline", len(objects))
	}
}
