package chaos

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// outcome is what one request came to, as its client saw it.
type outcome struct {
	op     string // what the client meant: "claim", "join", ...
	req    request
	status int    // the answer the client kept; 0 when it gave up
	body   string // that answer's body, or the last one seen when it gave up

	attempts int
	failed   int  // 5xx answers
	dropped  int  // answers lost on the way back
	busy     int  // 409 REQUEST_IN_PROGRESS answers
	unsure   bool // an attempt may have done the work without the client learning what it did
	differs  bool // an answer was lost, and the retry's answer was another

	keptFrom   time.Time // when the attempt whose answer was kept began
	answeredAt time.Time // when the client kept its answer
}

func (o outcome) ok() bool { return o.status >= 200 && o.status < 300 }

// json decodes the kept answer's body.
func (o outcome) json() map[string]any {
	var m map[string]any
	_ = json.Unmarshal([]byte(o.body), &m)
	return m
}

// code is the kept answer's error code, if any.
func (o outcome) code() string {
	e, _ := o.json()["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// client is a mobile client on a poor network: it sends every POST and PUT
// with an Idempotency-Key, retries 5xx answers and lost answers with the
// same key after a pause, and waits out REQUEST_IN_PROGRESS.
type client struct {
	sys         *system
	rng         *rand.Rand
	dropRate    float64 // share of answers lost on the way back
	maxAttempts int
	log         *ledger
}

func (c *client) do(ctx context.Context, op string, r request) outcome {
	o := outcome{op: op, req: r}
	key := ""
	if m, _, _ := strings.Cut(r.route, " "); m == http.MethodPost || m == http.MethodPut {
		key = uuid.NewString()
	}
	var lost *outcome // the last answer the client did not get
	for o.attempts < c.maxAttempts && ctx.Err() == nil {
		if o.attempts > 0 {
			c.pause(o.attempts)
		}
		o.attempts++
		o.keptFrom = time.Now()
		resp := c.sys.invoke(ctx, r, key)
		o.body = resp.Body
		switch {
		case resp.StatusCode >= 500:
			o.failed++
			o.unsure = true
			continue
		case resp.StatusCode == http.StatusConflict && strings.Contains(resp.Body, `"REQUEST_IN_PROGRESS"`):
			o.busy++
			continue
		}
		if lost != nil && (lost.status != resp.StatusCode || lost.body != resp.Body) {
			o.differs = true
		}
		if o.attempts < c.maxAttempts && c.rng.Float64() < c.dropRate {
			o.dropped++
			o.unsure = true
			lost = &outcome{status: resp.StatusCode, body: resp.Body}
			continue
		}
		o.status, o.body = resp.StatusCode, resp.Body
		break
	}
	o.answeredAt = time.Now()
	c.log.add(o)
	return o
}

// pause backs off exponentially with jitter, long enough in all to outlast
// an invocation deadline, after which a dead holder's claim on a key lapses.
func (c *client) pause(attempt int) {
	d := min(25*time.Millisecond<<(attempt-1), time.Second)
	time.Sleep(d/2 + time.Duration(c.rng.Int64N(int64(d/2)+1)))
}

// ledger keeps every outcome, for the checks and the figures.
type ledger struct {
	mu       sync.Mutex
	outcomes []outcome
}

func (l *ledger) add(o outcome) {
	l.mu.Lock()
	l.outcomes = append(l.outcomes, o)
	l.mu.Unlock()
}

func (l *ledger) all() []outcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]outcome(nil), l.outcomes...)
}

// figures are the client-side numbers of a run.
type figures struct {
	ops       map[string]int // requests by operation
	answers   map[string]int // final answers: "2xx", "4xx", "gave up"
	attempts  int
	failed    int            // 5xx answers, retried
	dropped   int            // answers lost, retried
	busy      int            // REQUEST_IN_PROGRESS answers, waited out
	gaveUp    map[string]int // by operation and last answer
	differing int            // retries after a lost answer that answered otherwise
}

func (l *ledger) figures() figures {
	f := figures{ops: map[string]int{}, answers: map[string]int{}, gaveUp: map[string]int{}}
	for _, o := range l.all() {
		f.ops[o.op]++
		switch {
		case o.status == 0:
			f.answers["gave up"]++
			last := o.code()
			if last == "" {
				last = "no answer"
			}
			f.gaveUp[o.op+" after "+last]++
		case o.ok():
			f.answers["2xx"]++
		default:
			f.answers["4xx"]++
		}
		f.attempts += o.attempts
		f.failed += o.failed
		f.dropped += o.dropped
		f.busy += o.busy
		if o.differs {
			f.differing++
		}
	}
	return f
}

// sortedKeys lists a map's keys in order, for stable reports.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
