// Package kafkasink sends batches to a Kafka topic, one record per entry.
//
// The sink URL lists the seed brokers and names the topic:
//
//	kafka://broker1:9092,broker2:9092/topic?key=client_ip
//	kafka://user:password@broker1:9096/topic?tls=true&sasl_mechanism=SCRAM-SHA-512
//
// A broker without a port gets 9092. URL parameters:
//
//	key               name of an entry field whose value becomes the record
//	                  key (a string's text, other values as their JSON); an
//	                  entry without the field, or with null, has no key.
//	                  Default: no key.
//	client_id         Kafka client id; default "webtrack".
//	tls               "true" to connect with TLS, checking the brokers'
//	                  certificates against the system roots; default "false".
//	sasl_mechanism    PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512: authenticate with
//	                  the user and password in the URL (user:password@…),
//	                  which must then be given. Default: no SASL.
//	max_record_bytes  the largest record batch the topic takes (its
//	                  max.message.bytes), 1024 to 67108864; default 1048576.
//	                  A record too large for a batch of its own fails the
//	                  Put (500) before any record is produced.
//
// Each record's value is the entry's JSON line, without its newline, and its
// headers are:
//
//	project     the batch's project
//	logstore    the batch's logstore
//	request_id  the batch's request id
//	entry       the entry's index in the batch, from 0, in decimal
//
// Records are produced with acks=all and the idempotent producer, and Put
// returns nil only once every record of the batch is acknowledged. The
// client retries until the Put's context ends, and no longer: records still
// unsent then are dropped, and those in flight are failed on the broker's
// answer instead of being sent again. Put then, or on any other failure
// that a later attempt may not meet, returns an error wrapped in
// sink.ErrUnavailable (503). Errors that Kafka says will not go away (a
// record too large, an authorization failure) are returned as they are (500).
//
// A topic deleted and created anew (on a rebuilt cluster too) has a new topic
// id, which the client would refuse for ever: on UNKNOWN_TOPIC_ID the sink
// drops what the client knows of the topic and produces again.
//
// Delivery is at least once: records already sent when a Put gives up may
// have been written, and a record that the sink produces again after a
// failure may be written twice. Consumers drop such copies on
// (request_id, entry); a client's retry is a new request, with a new id. A
// batch's records are written in order within a partition, except those
// produced again after a failure, which come after the rest: consumers that
// need the batch's order sort by entry.
package kafkasink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/webtrack/webtrack/shared/sink"
)

// Record header names; see the package documentation.
const (
	HeaderProject   = "project"
	HeaderLogstore  = "logstore"
	HeaderRequestID = "request_id"
	HeaderEntry     = "entry"
)

// DefaultMaxRecordBytes is the default for max_record_bytes: 1 MiB, within
// Kafka's default max.message.bytes (1048588).
const DefaultMaxRecordBytes = 1 << 20

// Bounds of max_record_bytes: room for a record's headers, and well within
// the client's largest write to a broker (100 MiB).
const (
	minRecordBytes = 1 << 10
	maxRecordBytes = 64 << 20
)

// Sink produces batches to one topic. It is safe for concurrent use.
type Sink struct {
	client         *kgo.Client
	topic          string
	key            string
	maxRecordBytes int
	// purges counts the times the topic was purged from the client; see
	// forgetTopic.
	purges atomic.Uint64
	// dial keeps the error of the latest failed connection to a broker:
	// the cause a Put gives when its deadline passes while the client keeps
	// dialling.
	dial dialRecorder
	// stopCheck ends the start-up check of the brokers.
	stopCheck context.CancelFunc
}

// dialRecorder is a client hook that keeps the error of the latest failed
// connection to a broker, or nil once one succeeds.
type dialRecorder struct{ last atomic.Pointer[error] }

// OnBrokerConnect records the outcome of a connection.
func (d *dialRecorder) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		d.last.Store(&err)
	} else {
		d.last.Store(nil)
	}
}

// err returns the error of the latest failed connection, or nil.
func (d *dialRecorder) err() error {
	if err := d.last.Load(); err != nil {
		return *err
	}
	return nil
}

// checkBrokers asks the seed brokers for metadata once, in the background,
// and logs a warning if none answers within checkTimeout: the start does
// not wait or fail, since the cluster may come up later, but the operator
// learns at once why requests would fail.
func (s *Sink) checkBrokers(ctx context.Context, brokers string) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if err := s.client.Ping(ctx); err != nil && !errors.Is(ctx.Err(), context.Canceled) {
		if dial := s.dial.err(); dial != nil {
			err = dial
		}
		slog.Warn("kafka brokers unreachable: requests will answer 503 until one can be reached", "brokers", brokers, "error", err.Error())
	}
}

// checkTimeout bounds the start-up check of the brokers.
const checkTimeout = 10 * time.Second

// Open builds a Sink from a kafka:// URL. It does not wait for the network:
// it checks in the background that a broker answers, logging a warning if
// none does, and the client connects on the first Put.
func Open(_ context.Context, u *url.URL) (sink.Sink, error) {
	if err := sink.CheckParams(u, "key", "client_id", "tls", "sasl_mechanism", "max_record_bytes"); err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	q := u.Query()
	topic := strings.TrimPrefix(u.Path, "/")
	if u.Host == "" || topic == "" || strings.Contains(topic, "/") {
		return nil, errors.New("kafka: want kafka://broker1:9092,broker2:9092/topic")
	}
	s := &Sink{topic: topic, key: q.Get("key"), maxRecordBytes: DefaultMaxRecordBytes}
	if v := q.Get("max_record_bytes"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < minRecordBytes || n > maxRecordBytes {
			return nil, fmt.Errorf("kafka: max_record_bytes %q: want a number from %d to %d", v, minRecordBytes, maxRecordBytes)
		}
		s.maxRecordBytes = n
	}
	opts, err := options(u, q)
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.WithHooks(&s.dial),
		kgo.SeedBrokers(strings.Split(u.Host, ",")...),
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.ProducerBatchMaxBytes(int32(s.maxRecordBytes)),
		// Records whose Put has given up are failed even once sent, rather
		// than sent again until some later attempt is acknowledged.
		kgo.AllowIdempotentProduceCancellation(),
		// A retry after NOT_LEADER and the like waits for fresh metadata;
		// the default 5s between refreshes is too long for a request's
		// deadline.
		kgo.MetadataMinAge(250*time.Millisecond),
	)
	if s.client, err = kgo.NewClient(opts...); err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	var check context.Context
	check, s.stopCheck = context.WithCancel(context.Background())
	go s.checkBrokers(check, u.Host)
	return s, nil
}

// options reads client_id, tls and SASL from the URL.
func options(u *url.URL, q url.Values) ([]kgo.Opt, error) {
	clientID := q.Get("client_id")
	if clientID == "" {
		clientID = "webtrack"
	}
	opts := []kgo.Opt{kgo.ClientID(clientID)}
	switch q.Get("tls") {
	case "", "false":
	case "true":
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
	default:
		return nil, fmt.Errorf("kafka: tls=%q: want true or false", q.Get("tls"))
	}
	mech, err := mechanism(q.Get("sasl_mechanism"), u.User)
	if err != nil || mech == nil {
		return opts, err
	}
	return append(opts, kgo.SASL(mech)), nil
}

// mechanism builds the SASL mechanism named, with the URL's credentials.
func mechanism(name string, user *url.Userinfo) (sasl.Mechanism, error) {
	if name == "" {
		if user != nil {
			return nil, errors.New("kafka: credentials in the URL need sasl_mechanism")
		}
		return nil, nil
	}
	pass, ok := user.Password()
	if user == nil || !ok {
		return nil, fmt.Errorf("kafka: sasl_mechanism %s needs user:password@ in the URL", name)
	}
	switch strings.ToUpper(name) {
	case "PLAIN":
		return plain.Auth{User: user.Username(), Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: user.Username(), Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: user.Username(), Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("kafka: sasl_mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", name)
}

// Close closes the client and its connections.
func (s *Sink) Close() error {
	s.stopCheck()
	s.client.Close()
	return nil
}
