package hook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/event"
)

func TestCheckURLRefusesWhatTheURLShows(t *testing.T) {
	tests := []struct {
		url      string
		loopback bool // the local runner's allowance
		ok       bool
	}{
		{"https://crm.clinic.cn/hooks", false, true},
		{"https://crm.clinic.cn.:8443/hooks", false, true},
		{"https://8.8.8.8/hooks", false, true},
		{"https://[2606:4700:4700::1111]/hooks", false, true},
		{"https://169.254.169.254.nip.io/", false, true}, // a name: judged where it resolves, at connect
		{"http://127.0.0.1:9000/laoyou", true, true},
		{"https://127.0.0.1:9000/laoyou", true, true},
		{"http://localhost:9000/laoyou", true, true},
		{"http://[::1]:9000/laoyou", true, true},

		{"https://localhost./", false, false},
		{"https://localhost./", true, false},
		{"https://LOCALHOST/", false, false},
		{"https://api.localhost/", false, false},
		{"http://api.localhost/", true, false},
		{"https://api.localhost./", false, false},
		{"https://127.1/", false, false},
		{"http://127.1/", true, false},
		{"https://2130706433/", false, false},
		{"https://0177.0.0.1/", false, false},
		{"https://0x7f.0.0.1/", false, false},
		{"https://0x7f000001/", false, false},
		{"https://127.0.0.1./", false, false},
		{"https://134744072/", false, false}, // 8.8.8.8, but only to some resolvers
		{"https://1.2.3.4.5/", false, false},
		{"https://127.0.0.1/", false, false},
		{"https://127.9.9.9/", false, false},
		{"https://[::1]/", false, false},
		{"https://[::ffff:127.0.0.1]/", false, false},
		{"https://[::ffff:169.254.169.254]/", false, false},
		{"https://[::ffff:a9fe:a9fe]/", false, false},
		{"https://[64:ff9b::a9fe:a9fe]/", false, false},
		{"https://[64:ff9b::a9fe:a9fe]/", true, false},
		{"https://[64:ff9b:1::a]/", false, false},
		{"https://[2002:a9fe:a9fe::1]/", false, false},
		{"https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", false, false},
		{"https://[::127.0.0.1]/", false, false},
		{"https://100.64.0.1/", false, false},
		{"https://100.100.100.200/", false, false},
		{"https://10.0.0.1/", false, false},
		{"https://172.16.5.4/", false, false},
		{"https://192.168.1.1/", false, false},
		{"https://169.254.169.254/latest", false, false},
		{"https://[fe80::1%25eth0]/", false, false},
		{"https://[fd00:ec2::254]/", false, false},
		{"https://[fc00::1]/", false, false},
		{"https://0.0.0.0/", false, false},
		{"https://0.1.2.3/", false, false},
		{"https://[::]/", false, false},
		{"https://224.0.0.1/", false, false},
		{"https://[ff02::1]/", false, false},
		{"https://255.255.255.255/", false, false},
		{"https://198.18.0.1/", false, false},
		{"http://crm.clinic.cn/hooks", true, false},
		{"http://10.0.0.1/", true, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s loopback=%v", tt.url, tt.loopback), func(t *testing.T) {
			err := Rule{ID: "r1", Event: event.CouponRedeemed, Webhook: &Webhook{URL: tt.url, Secret: secret}}.Validate(tt.loopback)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.Equal(t, apierr.BadRequest, apierr.KindOf(err), "%v", err)
			require.Contains(t, apierr.Message(err), `"webhook.url"`)
		})
	}
}

// countingListener is a TCP port on loopback that counts the connections
// made to it and closes them at once.
func countingListener(t *testing.T) (port string, accepted *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	accepted = new(atomic.Int32)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port, accepted
}

// fakeDNS answers from a table, as a hostile DNS server could.
func fakeDNS(names map[string][]string) Lookup {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		var out []netip.Addr
		for _, a := range names[strings.TrimSuffix(host, ".")] {
			out = append(out, netip.MustParseAddr(a))
		}
		if len(out) == 0 {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		return out, nil
	}
}

// loopbackOnly makes d's connections as in production, but never beyond
// loopback: an address outside is recorded and not dialled, so a broken
// check sends no traffic anywhere.
func loopbackOnly(d *Deliverer) *[]string {
	var outside []string
	var mu sync.Mutex
	d.connect = func(ctx context.Context, network, address string) (net.Conn, error) {
		if ap, err := netip.ParseAddrPort(address); err != nil || !ap.Addr().Unmap().IsLoopback() {
			mu.Lock()
			outside = append(outside, address)
			mu.Unlock()
			return nil, errors.New("test: no traffic beyond loopback")
		}
		dialer := net.Dialer{Control: dialControl(d.AllowLoopback)}
		return dialer.DialContext(ctx, network, address)
	}
	return &outside
}

func TestDeliverRefusesNamesResolvingInside(t *testing.T) {
	port, accepted := countingListener(t)
	d := fastDeliverer()
	d.AllowLoopback = func() bool { return false }
	outside := loopbackOnly(d)
	d.Lookup = fakeDNS(map[string][]string{
		"169.254.169.254.nip.io": {"169.254.169.254"},
		"rebind.example":         {"127.0.0.1"},
		"mapped.example":         {"::ffff:127.0.0.1"},
		"nat64.example":          {"64:ff9b::7f00:1"},
		"cgnat.example":          {"100.64.0.1"},
		"private.example":        {"10.1.2.3"},
		"6to4.example":           {"2002:7f00:1::1"},
		"teredo.example":         {"2001:0:4136:e378:8000:63bf:80ff:fffe"},
		"half.example":           {"93.184.215.14", "127.0.0.1"}, // one address inside refuses the name
	})
	for _, host := range []string{"169.254.169.254.nip.io", "rebind.example", "rebind.example.", "mapped.example", "nat64.example",
		"cgnat.example", "private.example", "6to4.example", "teredo.example", "half.example"} {
		t.Run(host, func(t *testing.T) {
			url := "https://" + net.JoinHostPort(host, port) + "/hook"
			require.NoError(t, CheckURL(url, false), "a name passes the save check: only its addresses tell")
			res, err := d.Deliver(context.Background(), Webhook{URL: url, Secret: secret}, testEvent())
			require.NoError(t, err)
			require.False(t, res.OK)
			require.Equal(t, ReasonRefusedAddress, res.Error)
			require.Equal(t, 1, res.Attempts, "not retried: the address would be refused again")
		})
	}
	require.Zero(t, accepted.Load(), "no connection reached loopback")
	require.Empty(t, *outside, "nothing was dialled: refused on the resolved addresses")

	// The local runner's allowance reaches loopback, and only loopback.
	d.AllowLoopback = func() bool { return true }
	res, err := d.Deliver(context.Background(), Webhook{URL: "https://" + net.JoinHostPort("rebind.example", port) + "/hook", Secret: secret}, testEvent())
	require.NoError(t, err)
	require.NotEqual(t, ReasonRefusedAddress, res.Error)
	require.Positive(t, accepted.Load())
	res, err = d.Deliver(context.Background(), Webhook{URL: "https://" + net.JoinHostPort("private.example", port) + "/hook", Secret: secret}, testEvent())
	require.NoError(t, err)
	require.Equal(t, ReasonRefusedAddress, res.Error)
}

// TestDialControlRefusesEveryAddressInside: the dialer's Control is the
// last check, whatever resolved the address.
func TestDialControlRefusesEveryAddressInside(t *testing.T) {
	port, accepted := countingListener(t)
	for _, addr := range []string{"127.0.0.1", "::ffff:127.0.0.1"} {
		dialer := net.Dialer{Control: dialControl(func() bool { return false })}
		_, err := dialer.Dial("tcp", net.JoinHostPort(addr, port))
		require.ErrorIs(t, err, errRefusedAddress, addr)
	}
	require.Zero(t, accepted.Load())

	control := dialControl(nil)
	for _, addr := range []string{"169.254.169.254:80", "[fd00:ec2::254]:80", "100.100.100.200:80", "[64:ff9b::a9fe:a9fe]:443",
		"[::ffff:10.0.0.1]:443", "[2002:a9fe:a9fe::1]:443", "0.0.0.0:443", "[::]:443", "[fe80::1%eth0]:443", "not-an-address:443"} {
		require.ErrorIs(t, control("tcp", addr, nil), errRefusedAddress, addr)
	}
	for _, addr := range []string{"93.184.215.14:443", "[2606:4700:4700::1111]:443"} {
		require.NoError(t, control("tcp", addr, nil), addr)
	}
	loopbackAllowed := dialControl(func() bool { return true })
	require.NoError(t, loopbackAllowed("tcp", "127.0.0.1:"+port, nil))
	require.ErrorIs(t, loopbackAllowed("tcp", "10.0.0.1:443", nil), errRefusedAddress, "the local allowance is loopback only")
}

func TestDeliveryFailuresTellOnlyAFixedReason(t *testing.T) {
	openPort, _ := countingListener(t) // accepts, then hangs up
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	release := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // answers nothing until the client gives up or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer silent.Close()
	defer close(release)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer failing.Close()
	untrusted := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer untrusted.Close()

	d := fastDeliverer()
	d.Attempts, d.Timeout = 2, 500*time.Millisecond
	outside := loopbackOnly(d)
	defer func() { require.Empty(t, *outside) }()
	d.Lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
		if host == "filtered.example" { // no answer ever: a filtered host or a dead DNS server
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return fakeDNS(map[string][]string{"localhost": {"127.0.0.1"}})(ctx, host)
	}
	tests := []struct {
		name, url, want string
	}{
		{"closed port", fmt.Sprintf("http://127.0.0.1:%d/h", closedPort), ReasonUnreachable},
		{"open port that hangs up", "http://127.0.0.1:" + openPort + "/h", ReasonUnreachable},
		{"filtered host", "https://filtered.example/h", ReasonUnreachable},
		{"unknown host", "https://nowhere.example/h", ReasonUnreachable},
		{"no answer in time", silent.URL, ReasonTimeout},
		{"not 2xx", failing.URL, "http_503"},
		{"untrusted certificate", untrusted.URL, ReasonTLSError},
		{"refused address", "https://10.0.0.1/h", ReasonRefusedAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := d.Deliver(context.Background(), Webhook{URL: tt.url, Secret: secret}, testEvent())
			require.NoError(t, err)
			require.False(t, res.OK)
			require.Equal(t, tt.want, res.Error)
		})
	}
}
