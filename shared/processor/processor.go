// Package processor is the track-request processor: one provider-neutral
// path from an HTTP request to a stored batch. It routes, checks the API
// version, CORS origin, project and logstore, and for a signed request
// (POST /logstores/{logstore}, the browser SDK's STS mode) its signature
// and credentials; it decompresses within limits, validates and encodes the
// entries, stores them through the sink, and answers as the Log Service
// does: 200 only once the batch is stored.
//
// The processor is pure with respect to its inputs: the sink and the clock
// are injected, so every front door is tested with one table of cases.
package processor

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/webtrack/webtrack/shared/apierror"
	"github.com/webtrack/webtrack/shared/decompress"
	"github.com/webtrack/webtrack/shared/logbatch"
	"github.com/webtrack/webtrack/shared/names"
	"github.com/webtrack/webtrack/shared/signing"
	"github.com/webtrack/webtrack/shared/sink"
)

// APIVersion is the only version of the web-tracking API.
const APIVersion = "0.6.0"

// Processor handles track requests. It is safe for concurrent use.
type Processor struct {
	cfg  Config
	sink sink.Sink
	log  *slog.Logger
	// bodies, parsers and pendings pool a request's memory: the body as
	// read, what decoding and encoding use, both returned as soon as the
	// lines are built, and the lines, held until they are stored.
	bodies   sync.Pool
	parsers  sync.Pool
	pendings sync.Pool
	// maxRequestBytes is the largest body a request may carry as sent.
	maxRequestBytes int
	// maxLineBytes is the longest line the sink can carry, or 0.
	maxLineBytes int
	admission    *admission
	// metrics names the Logstore dimension of the request lines' EMF
	// metrics; nil without them.
	metrics *metricLogstores
}

// parser is what a request uses to decompress and encode its body.
type parser struct {
	dec  decompress.Decoder
	enc  logbatch.Encoder
	opts logbatch.Options
}

// pending is a request's encoded batch, held until the sink has stored it.
type pending struct {
	lines []byte
	batch sink.Batch
}

// New returns a processor that stores into s and logs one line per request.
func New(cfg Config, s sink.Sink, log *slog.Logger) *Processor {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Processor{cfg: cfg, sink: s, log: log, maxRequestBytes: maxRequestBytes(cfg.MaxBodyBytes)}
	p.bodies.New = func() any { return new(bodyBuffer) }
	p.parsers.New = func() any { return new(parser) }
	p.pendings.New = func() any { return new(pending) }
	p.admission = newAdmission(cfg.MaxInflightBytes, MaxRequestCost(cfg.MaxBodyBytes, cfg.MaxEntries))
	p.maxLineBytes = sink.MaxLineBytes(s)
	if cfg.EMFMetrics {
		p.metrics = new(metricLogstores)
	}
	return p
}

// route is where a track request goes.
type route struct {
	logstore string
	gif      bool // answer with a GIF
	userInfo bool // record User-Agent and Referer
	signed   bool // POST /logstores/{logstore}: a signed write
}

// Handle answers one request. ctx carries the function's deadline.
func (p *Processor) Handle(ctx context.Context, req *Request) *Response {
	start := p.cfg.Now()
	id := req.ID
	if !names.RequestID(id) {
		id = newRequestID()
	}
	resp := &Response{Status: http.StatusOK, Header: http.Header{}}
	resp.Header.Set("X-Log-Requestid", id)
	p.cors(req, resp)

	rec := record{id: id, method: req.Method, path: req.Path, bytes: len(req.Body)}
	err := p.serveSafely(ctx, req, resp, start, &rec)
	if err != nil {
		resp.Status = err.Code.Status
		if err.Code == apierror.ServerBusy {
			resp.Header.Set("Retry-After", "1")
		}
		resp.Header.Set("Content-Type", "application/json")
		resp.Body, _ = json.Marshal(map[string]string{"errorCode": err.Code.Name, "errorMessage": err.Message})
		rec.code, rec.message = err.Code.Name, err.Message
	}
	rec.status = resp.Status
	rec.duration = p.cfg.Now().Sub(start)
	rec.log(ctx, p.log, p.metrics)
	return resp
}

// serveSafely is serve, with a panic (a bug, here or in a library, met by a
// hostile body) turned into a 500 and a log line with its stack, so that one
// request cannot take down a function instance and the requests it serves.
func (p *Processor) serveSafely(ctx context.Context, req *Request, resp *Response, start time.Time, rec *record) (err *apierror.Error) {
	defer func() {
		if v := recover(); v != nil {
			rec.panicked = fmt.Sprintf("%v\n%s", v, debug.Stack())
			err = apierror.New(apierror.InternalServerError, "the request could not be processed")
		}
	}()
	return p.serve(ctx, req, resp, start, rec)
}

func (p *Processor) serve(ctx context.Context, req *Request, resp *Response, start time.Time, rec *record) *apierror.Error {
	r, err := parseRoute(req.Path)
	if err != nil {
		return err
	}
	if req.Method == http.MethodOptions {
		return nil // a CORS preflight: the headers are the answer
	}
	if r.signed && req.Method != http.MethodPost {
		resp.Header.Set("Allow", "POST, OPTIONS")
		return apierror.New(apierror.MethodNotAllowed, "%s is not allowed on %s", req.Method, req.Path)
	}
	if req.Method != http.MethodPost && req.Method != http.MethodGet || req.Method == http.MethodPost && r.gif {
		resp.Header.Set("Allow", "GET, POST, OPTIONS")
		return apierror.New(apierror.MethodNotAllowed, "%s is not allowed on %s", req.Method, req.Path)
	}
	if origin := req.Header.Get("Origin"); !p.cfg.originAllowed(origin) {
		return apierror.New(apierror.OriginNotAllowed, "origin %q may not send data here", origin)
	}
	project, err := p.project(req.Host)
	if err != nil {
		return err
	}
	rec.project, rec.logstore = project, r.logstore
	if err := p.checkLogstore(project, r.logstore); err != nil {
		return err
	}
	rec.known = true
	rec.signed = r.signed
	if r.signed {
		if err := p.authenticate(req, project, r.logstore, start); err != nil {
			return err
		}
	} else if matchAny(p.cfg.SignedLogstores, project, r.logstore) {
		return apierror.New(apierror.Unauthorized, "logstore %q of project %q takes only signed writes (POST /logstores/%s with the SDK's STS mode)", r.logstore, project, r.logstore)
	}
	if err := checkAPIVersion(req); err != nil {
		return err
	}

	// One deadline bounds the wait for memory and the store: the sink
	// timeout, or the function's deadline less the time to answer. It is
	// real time, as context deadlines are; the injected clock stamps data.
	deadline := sink.Deadline(ctx, p.cfg.SinkTimeout, p.cfg.ResponseMargin)
	waitCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	held := &reservation{a: p.admission}
	defer held.close()

	st, entries, err := p.encode(waitCtx, held, req, r, start, rec)
	if st != nil {
		defer p.putPending(st)
	}
	if err != nil {
		return err
	}
	lines := st.lines
	rec.entries = entries
	if entries > 0 {
		// Reading and decoding are over: the request now holds what storing
		// its lines takes.
		if err := held.resize(waitCtx, storeCost(len(lines))); err != nil {
			return err
		}
		st.batch = sink.Batch{Project: project, Logstore: r.logstore, RequestID: rec.id, ReceivedAt: start, Entries: entries, NDJSON: lines}
		if err := p.store(ctx, deadline, &st.batch, rec); err != nil {
			return err
		}
	}
	if r.gif {
		resp.Header.Set("Content-Type", "image/gif")
		resp.Header.Set("Cache-Control", "no-store")
		resp.Body = transparentGIF
	}
	return nil
}

// maxPooledBuffer keeps one outsized request from pinning its buffers in
// the pool: the buffers of a larger one are left to the collector.
const maxPooledBuffer = 8 << 20

func (p *Processor) putPending(st *pending) {
	st.batch = sink.Batch{}
	if cap(st.lines) > maxPooledBuffer {
		st.lines = nil
	}
	p.pendings.Put(st)
}

// encode returns the request's lines in a pooled pending, and their count.
// Each step reserves in held what it allocates, waiting for room until ctx
// is done, and takes pooled buffers only once it holds their memory: a
// request that waits pins none of them.
func (p *Processor) encode(ctx context.Context, held *reservation, req *Request, r route, start time.Time, rec *record) (*pending, int, *apierror.Error) {
	var body []byte
	if req.Method == http.MethodGet {
		if err := held.grow(ctx, getCost); err != nil {
			return nil, 0, err
		}
		if n := querySize(req.Query); n > MaxQueryBytes {
			return nil, 0, apierror.New(apierror.RequestURITooLong, "the query is %d bytes; a GET request may carry at most %d: POST larger batches", n, MaxQueryBytes)
		}
	} else {
		buf, b, err := p.readBody(ctx, held, req)
		if buf != nil {
			defer p.putBody(buf)
		}
		body = b
		rec.bytes = len(body)
		if err != nil {
			return nil, 0, err
		}
		if err := held.grow(ctx, decodeCost(req, len(body), p.cfg.MaxBodyBytes)); err != nil {
			return nil, 0, err
		}
		if r.signed && !signing.MatchContentMD5(req.Header.Get("Content-MD5"), body) {
			return nil, 0, apierror.New(apierror.SignatureNotMatch, "Content-MD5 %q is not the MD5 of the body received, %s", req.Header.Get("Content-MD5"), signing.ContentMD5(body))
		}
	}

	w := p.parsers.Get().(*parser)
	defer p.parsers.Put(w)
	w.opts = logbatch.Options{
		ReceivedAt:     start,
		ClientIP:       req.ClientIP,
		ClientMetadata: p.cfg.ClientMetadata,
		ClientTime:     p.cfg.ClientTime || r.signed, // as the service's signed writes
		MaxEntries:     p.cfg.MaxEntries,
		MaxOutputBytes: maxOutputBytes(p.cfg.MaxBodyBytes, p.cfg.MaxEntries),
		MaxLineBytes:   p.maxLineBytes,
		RequestID:      rec.id,
		Reserve:        func(size int) *apierror.Error { return held.grow(ctx, int64(size)) },
	}
	st := p.pendings.Get().(*pending)
	var entries int
	var err *apierror.Error
	if req.Method == http.MethodGet {
		var extra []logbatch.Field
		if r.userInfo {
			extra = []logbatch.Field{
				{Key: "__userAgent__", Value: req.Header.Get("User-Agent")},
				{Key: "__referer__", Value: req.Header.Get("Referer")},
			}
		}
		st.lines, entries, err = w.enc.EncodeQuery(st.lines[:0], req.Query, extra, &w.opts)
		return st, entries, err
	}
	raw, err := w.dec.Decode(body, req.Header.Get("X-Log-Compresstype"), req.Header.Get("X-Log-Bodyrawsize"), p.cfg.MaxBodyBytes)
	if err != nil {
		return st, 0, decompress.TextBodyHint(err, req.Header.Get("X-Log-Compresstype"), req.Header.Get("Content-Type"))
	}
	if req.Header.Get("X-Log-Compresstype") != "" {
		rec.rawBytes = len(raw)
	}
	st.lines, entries, err = w.enc.EncodeJSON(st.lines[:0], raw, &w.opts)
	return st, entries, err
}

// querySize is the length of the query as a client sends it: each name and
// value percent-encoded, joined by '=' and '&'. Front doors hand over the
// decoded query, so this measures every one of them alike.
func querySize(q url.Values) int {
	n := 0
	for k, vs := range q {
		for _, v := range vs {
			n += escapedLen(k) + escapedLen(v) + 2
		}
	}
	return n
}

// escapedLen is the length of s query-escaped: unreserved bytes (and a
// space, sent as '+') take one byte, every other byte three.
func escapedLen(s string) int {
	n := len(s)
	for i := range len(s) {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '~', c == ' ':
		default:
			n += 2
		}
	}
	return n
}

// store puts the batch before the deadline. Once a batch is accepted it is
// stored whether or not the client is still there: a client that hangs up
// does not turn a store into a failure, or into a partial one.
func (p *Processor) store(ctx context.Context, deadline time.Time, b *sink.Batch, rec *record) *apierror.Error {
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	err := p.sink.Put(ctx, b)
	if err == nil {
		return nil
	}
	rec.sinkErr = err
	if sink.IsRetryable(err) || errors.Is(err, context.Canceled) {
		return apierror.New(apierror.ServerBusy, "the batch was not stored; retry later")
	}
	return apierror.New(apierror.InternalServerError, "the batch was not stored")
}

func parseRoute(urlPath string) (route, *apierror.Error) {
	rest, ok := strings.CutPrefix("/"+strings.TrimLeft(urlPath, "/"), "/logstores/") // "//logstores/…" from a base URL ending in '/'
	logstore, target, ok2 := strings.Cut(rest, "/")
	var r route
	switch {
	case !ok2:
		r.signed, ok, ok2 = true, ok && logstore != "", true
	case target == "track":
	case target == "track.gif":
		r.gif = true
	case target == "track_ua.gif":
		r.gif, r.userInfo = true, true
	default:
		ok = false
	}
	if !ok || !ok2 {
		return r, apierror.New(apierror.RequestPathNotFound, "%q is not a web-tracking path; use /logstores/{logstore}/track, or /logstores/{logstore} signed", urlPath)
	}
	if !names.Logstore(logstore) {
		return r, apierror.New(apierror.LogStoreNotExist, "logstore %q does not exist: names are 3-63 lowercase letters, digits, '_' and '-'", logstore)
	}
	r.logstore = logstore
	return r, nil
}

func (p *Processor) project(host string) (string, *apierror.Error) {
	project := p.cfg.projectFromHost(host)
	if project == "" {
		project = p.cfg.DefaultProject
	}
	if !names.Project(project) || !matchAny(p.cfg.Projects, "", project) {
		return "", apierror.New(apierror.ProjectNotExist, "project %q does not exist", project)
	}
	return project, nil
}

func (p *Processor) checkLogstore(project, logstore string) *apierror.Error {
	if matchAny(p.cfg.DisabledLogstores, project, logstore) {
		return apierror.New(apierror.WebTrackingDisabled, "web tracking is not enabled for logstore %q of project %q", logstore, project)
	}
	if !matchAny(p.cfg.Logstores, project, logstore) {
		return apierror.New(apierror.LogStoreNotExist, "logstore %s does not exist", logstore)
	}
	return nil
}

// checkAPIVersion accepts the version from the x-log-apiversion header, as
// the API page documents, or from the APIVersion query parameter, as the
// browser SDK and beacons send it.
func checkAPIVersion(req *Request) *apierror.Error {
	v := req.Header.Get("X-Log-Apiversion")
	if v == "" {
		v = req.Query.Get(logbatch.APIVersionParam)
	}
	switch v {
	case APIVersion:
		return nil
	case "":
		return apierror.New(apierror.MissingAPIVersion, "send x-log-apiversion: %s or ?APIVersion=%s", APIVersion, APIVersion)
	}
	return apierror.New(apierror.InvalidAPIVersion, "API version %q is not supported; use %s", v, APIVersion)
}

// cors sets the CORS headers every answer carries, for an allowed origin.
func (p *Processor) cors(req *Request, resp *Response) {
	origin := req.Header.Get("Origin")
	if origin == "" || !p.cfg.originAllowed(origin) {
		return
	}
	h := resp.Header
	if len(p.cfg.AllowedOrigins) == 1 && p.cfg.AllowedOrigins[0] == "*" {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Vary", "Origin")
	}
	h.Set("Access-Control-Expose-Headers", "x-log-requestid")
	if req.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		allowed := req.Header.Get("Access-Control-Request-Headers")
		if allowed == "" {
			allowed = "x-log-apiversion, x-log-bodyrawsize, x-log-compresstype, content-type, " + signedHeaders
		}
		h.Set("Access-Control-Allow-Headers", allowed)
		h.Set("Access-Control-Max-Age", "86400")
	}
}

// newRequestID returns 24 upper-case hex digits, like the service's ids.
func newRequestID() string {
	return fmt.Sprintf("%016X%08X", rand.Uint64(), rand.Uint32())
}

// transparentGIF is a 1x1 transparent GIF, so that an <img> beacon loads.
var transparentGIF = []byte{
	'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff,
	0x21, 0xf9, 0x04, 0x01, 0, 0, 0, 0, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0x02, 0x02, 0x44, 0x01, 0, 0x3b,
}

// record is what the request's log line says.
type record struct {
	id, method, path  string
	project, logstore string
	known             bool // project and logstore passed the allow-lists
	entries, bytes    int
	rawBytes          int // decompressed size, for a compressed body
	signed            bool
	status            int
	code, message     string
	sinkErr           error
	panicked          string
	duration          time.Duration
}

// log writes the request's line, with its CloudWatch metrics unless metrics
// is nil.
func (r *record) log(ctx context.Context, log *slog.Logger, metrics *metricLogstores) {
	level := slog.LevelInfo
	if r.status >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("request_id", r.id),
		slog.String("method", r.method),
		slog.String("path", r.path),
		slog.String("project", r.project),
		slog.String("logstore", r.logstore),
		slog.Int("entries", r.entries),
		slog.Int("bytes", r.bytes),
		slog.Int("raw_bytes", cmp.Or(r.rawBytes, r.bytes)),
		slog.Int("status", r.status),
		slog.Float64("duration_ms", float64(r.duration.Microseconds())/1000),
	}
	if r.signed {
		attrs = append(attrs, slog.Bool("signed", true))
	}
	if r.code != "" {
		attrs = append(attrs, slog.String("error_code", r.code), slog.String("error", r.message))
	}
	if r.sinkErr != nil {
		attrs = append(attrs, slog.String("sink_error", r.sinkErr.Error()))
	}
	if r.panicked != "" {
		attrs = append(attrs, slog.String("panic", r.panicked))
	}
	if metrics != nil {
		attrs = append(attrs, r.emfAttrs(time.Now(), metrics)...)
	}
	log.LogAttrs(ctx, level, "track request", attrs...)
}
