package processortest

import (
	"bytes"
	"fmt"
	"image/gif"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/klauspost/compress/zlib"
	"github.com/pierrec/lz4/v4"

	"github.com/webtrack/webtrack/shared/processor"
)

// Batch is the documented example body.
const Batch = `{"__topic__":"topic","__source__":"source","__logs__":[{"foo":"bar","foo1":"bar1"},{"bar":"foo","bar1":"foo1"}],"__tags__":{"tag1":"value1","tag2":"value2"}}`

// LZ4 compresses b as a raw LZ4 block.
func LZ4(b []byte) []byte {
	dst := make([]byte, lz4.CompressBlockBound(len(b)))
	n, err := lz4.CompressBlock(b, dst, nil)
	if err != nil || n == 0 {
		panic(fmt.Sprintf("lz4: %d bytes of incompressible input: %v", len(b), err))
	}
	return dst[:n]
}

// Deflate compresses b as zlib-wrapped deflate.
func Deflate(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// sdk are the headers of the OpenAPI SDKs for a raw body of n bytes.
func sdk(n int, more ...string) []string {
	return append([]string{"x-log-apiversion", "0.6.0", "x-log-bodyrawsize", strconv.Itoa(n), "Content-Type", "application/json"}, more...)
}

// browser is what @aliyun-sls/web-track-browser sends: no x-log-* headers,
// the version in the query, a text/plain body.
func browser(logstore, body string) processor.Request {
	r := Post(logstore, []byte(body), "Content-Type", "text/plain;charset=UTF-8", "Origin", "https://shop.example.com")
	r.Query = url.Values{"APIVersion": {"0.6.0"}}
	return r
}

func batchOf(entries ...string) string {
	return `{"__logs__":[` + strings.Join(entries, ",") + `]}`
}

func post(body string, more ...string) processor.Request {
	return Post("web", []byte(body), sdk(len(body), more...)...)
}

func fail(name string, status int, code string, req processor.Request) Case {
	return Case{Name: name, Request: req, Status: status, Code: code}
}

func clientTime(c *processor.Config) { c.ClientTime = true }

// ownTopics is a batch as a web-tracking logger by the service's team sends
// it: __topic__ inside every entry, the batch's own naming the merge, and an
// x-log-bodyrawsize that counts the body's UTF-16 code units, the length of
// a JavaScript string.
var ownTopics = func() processor.Request {
	body := `{"__topic__":"merged","__logs__":[` +
		`{"__topic__":"页面","msg":"日本語 ✓ 😀"},` +
		`{"__topic__":"click","__source__":"button","msg":"Grüße"},` +
		`{"msg":"plain"}],"__tags__":{"logger":"web-tracking"}}`
	units := len(utf16.Encode([]rune(body)))
	if units == len(body) {
		panic("the body's UTF-16 length must differ from its byte length")
	}
	return Post("web", []byte(body), sdk(units)...)
}()

// Cases is the protocol table.
func Cases() []Case {
	big := strings.Repeat("x", 1<<20)
	oneLine := func(check func(t *testing.T, line map[string]any)) func(*testing.T, *processor.Response, []Object) {
		return func(t *testing.T, _ *processor.Response, stored []Object) {
			if lines := Lines(stored); len(lines) == 1 {
				check(t, lines[0])
			}
		}
	}
	manyEntries := make([]string, 101)
	for i := range manyEntries {
		manyEntries[i] = `{"i":"` + strconv.Itoa(i) + `"}`
	}
	bomb := Deflate(bytes.Repeat([]byte(" "), 4<<20)) // 4 MiB of spaces from a few KB
	// 141 bytes of deflate that ask for 205 MB of lines: one 50 KB tag that
	// each of 4,096 empty entries would repeat.
	amplifier := []byte(`{"__tags__":{"t":"` + strings.Repeat("x", 50<<10) + `"},"__logs__":[{}` + strings.Repeat(",{}", 4095) + `]}`)
	serviceLimits := func(c *processor.Config) { c.MaxBodyBytes, c.MaxEntries = 3<<20, 4096 }

	return append([]Case{
		{Name: "post documented batch", Request: post(Batch), Status: 200, Entries: 2, Check: func(t *testing.T, resp *processor.Response, stored []Object) {
			if len(resp.Body) != 0 {
				t.Errorf("success body %q, want empty", resp.Body)
			}
			lines := Lines(stored)
			if len(lines) != 2 {
				return
			}
			hasPrefix(t, "key", stored[0].Key, "project=default/logstore=web/dt=2026-11-25/hour=21/")
			l := lines[0]
			wantEqual(t, "__time__", Field(t, l, "__time__"), strconv.FormatInt(ReceivedAt.Unix(), 10))
			wantEqual(t, "__topic__", Field(t, l, "__topic__"), "topic")
			wantEqual(t, "__source__", Field(t, l, "__source__"), "source")
			wantEqual(t, "tag", Field(t, l, "__tag__:tag1"), "value1")
			wantEqual(t, "client ip", Field(t, l, "__tag__:__client_ip__"), "203.0.113.7")
			wantEqual(t, "receive time", Field(t, l, "__tag__:__receive_time__"), strconv.FormatInt(ReceivedAt.Unix(), 10))
			for _, l := range lines {
				wantEqual(t, "request id", Field(t, l, "__tag__:__request_id__"), resp.Header.Get("X-Log-Requestid"))
			}
			wantEqual(t, "foo", Field(t, l, "foo"), "bar")
			wantEqual(t, "bar1", Field(t, lines[1], "bar1"), "foo1")
		}},
		{Name: "post as the browser SDK sends it", Request: browser("web", `{"__topic__":"t","__logs__":[{"page":"/home","n":"1"}],"__tags__":{"sdk":"browser"}}`), Status: 200, Entries: 1,
			Check: func(t *testing.T, resp *processor.Response, stored []Object) {
				wantEqual(t, "allow origin", resp.Header.Get("Access-Control-Allow-Origin"), "https://shop.example.com")
			}},
		{Name: "post lz4", Request: Post("web", LZ4([]byte(Batch)), sdk(len(Batch), "x-log-compresstype", "lz4")...), Status: 200, Entries: 2},
		{Name: "post deflate", Request: Post("web", Deflate([]byte(Batch)), sdk(len(Batch), "x-log-compresstype", "deflate")...), Status: 200, Entries: 2},
		{Name: "post without content type", Request: Post("web", []byte(Batch), "x-log-apiversion", "0.6.0"), Status: 200, Entries: 2},
		{Name: "project from host", Request: func() processor.Request {
			r := post(`{"__logs__":[{"a":"b"}]}`)
			r.Host = "my-project.log.example.com"
			r.Path = "/logstores/only-here/track"
			return r
		}(), Status: 200, Entries: 1, Check: func(t *testing.T, _ *processor.Response, stored []Object) {
			if len(stored) == 1 {
				hasPrefix(t, "key", stored[0].Key, "project=my-project/logstore=only-here/")
			}
		}},
		{Name: "unicode and escapes round trip", Request: post(batchOf(`{"msg":"日本語 ✓ 😀","esc":"a\"b\\c\n\u00e9\/","empty":""}`)), Status: 200, Entries: 1,
			Check: oneLine(func(t *testing.T, l map[string]any) {
				wantEqual(t, "msg", Field(t, l, "msg"), "日本語 ✓ 😀")
				wantEqual(t, "esc", Field(t, l, "esc"), "a\"b\\c\né/")
				wantEqual(t, "empty", Field(t, l, "empty"), "")
			})},
		{Name: "non-string values become their JSON text", Request: post(batchOf(`{"n":12.5,"t":true,"z":null,"o":{"k": [1, "x"]},"a":[]}`)), Status: 200, Entries: 1,
			Check: oneLine(func(t *testing.T, l map[string]any) {
				wantEqual(t, "n", Field(t, l, "n"), "12.5")
				wantEqual(t, "t", Field(t, l, "t"), "true")
				wantEqual(t, "z", Field(t, l, "z"), "null")
				wantEqual(t, "o", Field(t, l, "o"), `{"k":[1,"x"]}`)
				wantEqual(t, "a", Field(t, l, "a"), `[]`)
			})},
		{Name: "client __time__ is replaced", Request: post(batchOf(`{"__time__":"1000","a":"b"}`)), Status: 200, Entries: 1,
			Check: oneLine(func(t *testing.T, l map[string]any) {
				wantEqual(t, "__time__", Field(t, l, "__time__"), strconv.FormatInt(ReceivedAt.Unix(), 10))
			})},
		{Name: "client __time__ kept when configured", Config: clientTime, Request: post(batchOf(fmt.Sprintf(`{"__time__":%d,"a":"b"}`, ReceivedAt.Unix()-3600))), Status: 200, Entries: 1,
			Check: oneLine(func(t *testing.T, l map[string]any) {
				wantEqual(t, "__time__", Field(t, l, "__time__"), strconv.FormatInt(ReceivedAt.Unix()-3600, 10))
			})},
		// As the service: a POST that names no source leaves it empty, the
		// address only in __tag__:__client_ip__; a beacon's is the address.
		{Name: "post without a source stores it empty", Request: post(batchOf(`{"a":"b"}`)), Status: 200, Entries: 1,
			Check: oneLine(func(t *testing.T, l map[string]any) {
				wantEqual(t, "__source__", Field(t, l, "__source__"), "")
				wantEqual(t, "client ip", Field(t, l, "__tag__:__client_ip__"), "203.0.113.7")
			})},
		{Name: "beacon source is the client address", Request: Get("web", "track", "APIVersion=0.6.0&a=b"), Status: 200, Entries: 1,
			Check: oneLine(func(t *testing.T, l map[string]any) {
				wantEqual(t, "__source__", Field(t, l, "__source__"), "203.0.113.7")
			})},
		{Name: "entries with their own topic", Request: ownTopics, Status: 200, Entries: 3,
			Check: func(t *testing.T, _ *processor.Response, stored []Object) {
				lines := Lines(stored)
				if len(lines) != 3 {
					return
				}
				for i, want := range []map[string]string{
					{"__topic__": "页面", "__topic__0": "merged", "__source__": "", "msg": "日本語 ✓ 😀"},
					{"__topic__": "click", "__topic__0": "merged", "__source__": "button", "__source__0": "", "msg": "Grüße"},
					{"__topic__": "merged", "__source__": "", "msg": "plain"},
				} {
					for k, v := range want {
						wantEqual(t, fmt.Sprintf("line %d %s", i, k), Field(t, lines[i], k), v)
					}
					if _, ok := lines[i]["__topic__0"]; ok && want["__topic__0"] == "" {
						t.Errorf("line %d holds __topic__0 although its entry has no topic of its own", i)
					}
					wantEqual(t, fmt.Sprintf("line %d client ip", i), Field(t, lines[i], "__tag__:__client_ip__"), "203.0.113.7")
				}
			}},
		{Name: "no client metadata when off", Config: func(c *processor.Config) { c.ClientMetadata = false }, Request: post(Batch), Status: 200, Entries: 2,
			Check: func(t *testing.T, _ *processor.Response, stored []Object) {
				for _, l := range Lines(stored) {
					if _, ok := l["__tag__:__client_ip__"]; ok {
						t.Error("client ip stored although client metadata is off")
					}
				}
			}},
		{Name: "empty batch stores nothing", Request: post(`{"__logs__":[]}`), Status: 200},
		{Name: "unknown members are ignored", Request: post(`{"__logs__":[{"a":"b"}],"extra":{"x":[1,2]}}`), Status: 200, Entries: 1},
		{Name: "get beacon", Request: Get("web", "track", "APIVersion=0.6.0&a=1&__topic__=t&b=%E4%B8%AD"), Status: 200, Entries: 1,
			Check: func(t *testing.T, resp *processor.Response, stored []Object) {
				if len(resp.Body) != 0 {
					t.Errorf("body %q on plain GET", resp.Body)
				}
				if lines := Lines(stored); len(lines) == 1 {
					wantEqual(t, "a", Field(t, lines[0], "a"), "1")
					wantEqual(t, "b", Field(t, lines[0], "b"), "中")
					wantEqual(t, "topic", Field(t, lines[0], "__topic__"), "t")
					if _, ok := lines[0]["APIVersion"]; ok {
						t.Error("APIVersion stored as a field")
					}
				}
			}},
		{Name: "gif beacon", Request: Get("web", "track.gif", "APIVersion=0.6.0&event=view"), Status: 200, Entries: 1,
			Check: func(t *testing.T, resp *processor.Response, _ []Object) {
				wantEqual(t, "content type", resp.Header.Get("Content-Type"), "image/gif")
				img, err := gif.Decode(bytes.NewReader(resp.Body))
				if err != nil {
					t.Fatalf("body is not a GIF: %v", err)
				}
				if b := img.Bounds(); b.Dx() != 1 || b.Dy() != 1 {
					t.Errorf("GIF is %v, want 1x1", b)
				}
			}},
		{Name: "ua gif beacon records user agent and referer", Request: Get("web", "track_ua.gif", "APIVersion=0.6.0&event=view", "User-Agent", "Mozilla/5.0 test", "Referer", "https://shop.example.com/p?id=1"), Status: 200, Entries: 1,
			Check: func(t *testing.T, resp *processor.Response, stored []Object) {
				wantEqual(t, "content type", resp.Header.Get("Content-Type"), "image/gif")
				if lines := Lines(stored); len(lines) == 1 {
					wantEqual(t, "ua", Field(t, lines[0], "__userAgent__"), "Mozilla/5.0 test")
					wantEqual(t, "referer", Field(t, lines[0], "__referer__"), "https://shop.example.com/p?id=1")
				}
			}},
		{Name: "cors preflight", Request: func() processor.Request {
			r := Post("web", nil, "Origin", "https://shop.example.com", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "x-log-apiversion,x-log-bodyrawsize,x-log-compresstype,content-type")
			r.Method = http.MethodOptions
			return r
		}(), Status: 200, Check: func(t *testing.T, resp *processor.Response, _ []Object) {
			wantEqual(t, "allow origin", resp.Header.Get("Access-Control-Allow-Origin"), "https://shop.example.com")
			wantEqual(t, "allow methods", resp.Header.Get("Access-Control-Allow-Methods"), "GET, POST, OPTIONS")
			if h := resp.Header.Get("Access-Control-Allow-Headers"); !strings.Contains(h, "x-log-bodyrawsize") {
				t.Errorf("allow headers %q", h)
			}
		}},

		// Every error a client can cause.
		fail("malformed json", 400, "PostBodyInvalid", post(`{"__logs__":[{"a":"b"}`)),
		fail("trailing data after the json", 400, "PostBodyInvalid", post(`{"__logs__":[{"a":"b"}]} {}`)),
		fail("no __logs__", 400, "PostBodyInvalid", post(`{"__topic__":"t"}`)),
		fail("__logs__ not an array", 400, "PostBodyInvalid", post(`{"__logs__":{"a":"b"}}`)),
		fail("entry not an object", 400, "PostBodyInvalid", post(batchOf(`{"a":"b"}`, `"c"`))),
		fail("body not an object", 400, "PostBodyInvalid", post(`[{"a":"b"}]`)),
		fail("topic too long", 400, "PostBodyInvalid", post(`{"__topic__":"`+strings.Repeat("t", 129)+`","__logs__":[]}`)),
		{Name: "value over 1 MB", Config: func(c *processor.Config) { c.MaxBodyBytes = 2 << 20 }, Request: post(batchOf(`{"v":"` + big + `x"}`)), Status: 400, Code: "PostBodyInvalid"},
		fail("invalid utf-8 in a value", 400, "InvalidEncoding", post(batchOf("{\"a\":\"\xff\xfe\"}"))),
		fail("invalid utf-8 in a key", 400, "InvalidEncoding", post(batchOf("{\"\xc3\x28\":\"b\"}"))),
		fail("lone surrogate escape", 400, "InvalidEncoding", post(batchOf(`{"a":"\ud800"}`))),
		fail("invalid utf-8 in a beacon", 400, "InvalidEncoding", Get("web", "track", "APIVersion=0.6.0&a=%FF")),
		fail("key with a space", 400, "InvalidKey", post(batchOf(`{"a b":"c"}`))),
		fail("key starting with a digit", 400, "InvalidKey", post(batchOf(`{"1a":"c"}`))),
		fail("key over 128 bytes", 400, "InvalidKey", post(batchOf(`{"`+strings.Repeat("k", 129)+`":"c"}`))),
		fail("reserved key", 400, "InvalidKey", post(batchOf(`{"__partition_time__":"c"}`))),
		fail("entry topic and __topic__0", 400, "InvalidKey", post(batchOf(`{"__topic__":"c","__topic__0":"d"}`))),
		fail("duplicate key", 400, "InvalidKey", post(batchOf(`{"a":"1","a":"2"}`))),
		fail("reserved tag", 400, "InvalidKey", post(`{"__logs__":[{"a":"b"}],"__tags__":{"__client_ip__":"1.2.3.4"}}`)),
		fail("reserved request id tag", 400, "InvalidKey", post(`{"__logs__":[{"a":"b"}],"__tags__":{"__request_id__":"forged"}}`)),
		// loghub-tracking.js, the script the service's documents offer, sends a
		// key pushed twice twice. Every front door joins the values by commas.
		{Name: "repeated beacon parameter", Request: Get("web", "track", "APIVersion=0.6.0&a=first&a=second&other=x"), Status: 200, Entries: 1,
			Check: oneLine(func(t *testing.T, l map[string]any) {
				wantEqual(t, "a", Field(t, l, "a"), "first,second")
				wantEqual(t, "other", Field(t, l, "other"), "x")
			})},
		fail("beacon query over 16 KiB", 414, "RequestURITooLong", Get("web", "track", "APIVersion=0.6.0&v="+strings.Repeat("x", 16<<10))),
		// 6,000 bytes decoded, 18,000 as sent: the limit is on what is sent.
		fail("beacon query over 16 KiB percent-encoded", 414, "RequestURITooLong", Get("web", "track", "APIVersion=0.6.0&v="+strings.Repeat("%E4%B8%AD", 2000))),
		{Name: "beacon query just under 16 KiB", Request: Get("web", "track", "APIVersion=0.6.0&v="+strings.Repeat("x", 16<<10-32)), Status: 200, Entries: 1},
		fail("body over the limit", 400, "PostBodyTooLarge", post(batchOf(`{"v":"`+strings.Repeat("x", 256<<10)+`"}`))),
		fail("too many entries", 400, "PostBodyTooLarge", post(batchOf(manyEntries...))),
		fail("deflate bomb", 400, "PostBodyTooLarge", Post("web", bomb, sdk(100, "x-log-compresstype", "deflate")...)),
		{Name: "tags repeated on every entry", Config: serviceLimits, Request: Post("web", Deflate(amplifier), sdk(len(amplifier), "x-log-compresstype", "deflate")...), Status: 400, Code: "PostBodyTooLarge"},
		fail("declared raw size over the limit", 400, "PostBodyTooLarge", Post("web", LZ4([]byte(Batch)), sdk(1<<30, "x-log-compresstype", "lz4")...)),
		fail("corrupt lz4", 400, "PostBodyUncompressError", Post("web", []byte{0xf0, 0x01, 0x02}, sdk(500, "x-log-compresstype", "lz4")...)),
		fail("corrupt deflate", 400, "PostBodyUncompressError", Post("web", []byte("not zlib at all"), sdk(500, "x-log-compresstype", "deflate")...)),
		fail("lz4 without raw size", 400, "MissingBodyRawSize", Post("web", LZ4([]byte(Batch)), "x-log-apiversion", "0.6.0", "x-log-compresstype", "lz4")),
		fail("raw size not a number", 400, "InvalidBodyRawSize", Post("web", LZ4([]byte(Batch)), "x-log-apiversion", "0.6.0", "x-log-compresstype", "lz4", "x-log-bodyrawsize", "12ab")),
		fail("raw size differs from the lz4 body", 400, "InvalidBodyRawSize", Post("web", LZ4([]byte(Batch)), sdk(len(Batch)-5, "x-log-compresstype", "lz4")...)),
		fail("lz4 declared empty", 400, "InvalidBodyRawSize", Post("web", LZ4([]byte(Batch)), sdk(0, "x-log-compresstype", "lz4")...)),
		fail("corrupt lz4 declared empty", 400, "PostBodyUncompressError", Post("web", []byte("000000000000000000"), sdk(0, "x-log-compresstype", "lz4")...)),
		{Name: "compressed body sent as JSON text", Request: Post("web", []byte(strings.ToValidUTF8(string(Deflate([]byte(Batch))), "\uFFFD")), sdk(len(Batch), "x-log-compresstype", "deflate")...),
			Status: 400, Code: "PostBodyUncompressError", Check: func(t *testing.T, resp *processor.Response, _ []Object) {
				if !bytes.Contains(resp.Body, []byte("no Content-Type or application/octet-stream")) {
					t.Errorf("the error %s does not name the text Content-Type as the likely cause", resp.Body)
				}
			}},
		fail("raw size differs from the deflate body", 400, "InvalidBodyRawSize", Post("web", Deflate([]byte(Batch)), sdk(len(Batch)+5, "x-log-compresstype", "deflate")...)),
		// A plain body is measured, its declared size ignored: the browser
		// SDK's STS mode declares UTF-16 code units.
		{Name: "raw size of a plain body is not checked", Request: post(batchOf(`{"a":"日本語"}`), "x-log-bodyrawsize", "17"), Status: 200, Entries: 1},
		{Name: "raw size of a plain body not a number", Request: post(Batch, "x-log-bodyrawsize", "12ab"), Status: 200, Entries: 2},
		fail("unknown compress type", 400, "InvalidCompressType", Post("web", []byte(Batch), sdk(len(Batch), "x-log-compresstype", "gzip")...)),
		fail("no api version", 400, "MissingAPIVersion", Post("web", []byte(Batch))),
		fail("wrong api version", 400, "InvalidAPIVersion", Post("web", []byte(Batch), "x-log-apiversion", "0.5.0")),
		{Name: "client __time__ not a number", Config: clientTime, Request: post(batchOf(`{"__time__":"yesterday"}`)), Status: 400, Code: "InvalidTimestamp"},
		{Name: "client __time__ out of range", Config: clientTime, Request: post(batchOf(fmt.Sprintf(`{"__time__":%d}`, ReceivedAt.Unix()-8*24*3600))), Status: 499, Code: "PostBodyInvalid"},
		fail("unknown logstore", 404, "LogStoreNotExist", Post("nope", []byte(Batch), sdk(len(Batch))...)),
		fail("logstore of another project", 404, "LogStoreNotExist", Post("only-here", []byte(Batch), sdk(len(Batch))...)),
		fail("invalid logstore name", 404, "LogStoreNotExist", Post("UPPER", []byte(Batch), sdk(len(Batch))...)),
		fail("web tracking off", 401, "Unauthorized", Post("disabled", []byte(Batch), sdk(len(Batch))...)),
		fail("unknown project", 404, "ProjectNotExist", func() processor.Request { r := post(Batch); r.Host = "other.log.example.com"; return r }()),
		fail("origin not allowed", 403, "OriginNotAllowed", Post("web", []byte(Batch), sdk(len(Batch), "Origin", "https://evil.example.net")...)),
		fail("put not allowed", 405, "MethodNotAllowed", func() processor.Request { r := post(Batch); r.Method = http.MethodPut; return r }()),
		fail("post to a gif", 405, "MethodNotAllowed", func() processor.Request { r := post(Batch); r.Path = "/logstores/web/track.gif"; return r }()),
		// A client whose base URL ends in '/' (a Lambda function URL, an FC
		// trigger URL) doubles the path's first slash.
		{Name: "doubled leading slash", Request: func() processor.Request { r := post(Batch); r.Path = "//logstores/web/track"; return r }(), Status: 200, Entries: 2},
		fail("unknown path", 404, "RequestPathNotFound", func() processor.Request { r := post(Batch); r.Path = "/logstores/web/shards"; return r }()),

		// Storage failures are never a 200.
		{Name: "storage fails", Request: post(Batch), BreakStorage: true, Status: 500, Code: "InternalServerError"},
		{Name: "signed write when storage fails", Request: Signed(SignedLogstore, batchOf(`{"a":"b"}`), Mint(NewSecret, time.Minute, SignedLogstore), ReceivedAt), BreakStorage: true, Status: 500, Code: "InternalServerError"},
	}, signedCases()...)
}
