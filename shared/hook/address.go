package hook

import (
	"errors"
	"net/netip"
	"strings"
	"sync"
	"syscall"
)

// A webhook URL is chosen by a tenant, so what it may reach is decided
// twice: at save, from the URL alone (CheckURL), and at connect, against
// every address its host resolves to (the dialer's Control), since a name
// can resolve anywhere and change between the two.

// errRefusedAddress is a connection refused because its address is not
// public; a delivery that meets it reports ReasonRefusedAddress.
var errRefusedAddress = errors.New("hook: the webhook's address is not public")

// nonPublic are the ranges a webhook may never reach beyond what
// netip.Addr's own predicates catch (loopback, private, link-local,
// multicast, unspecified): addresses of this network or of the cloud
// provider's (CGNAT holds Alibaba Cloud's metadata service), and the IPv6
// forms that carry an IPv4 address inside (NAT64, 6to4, Teredo,
// IPv4-compatible), which could lead back to any of them.
var nonPublic = sync.OnceValue(func() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
		netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT, shared address space
		netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
		netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast
		netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
		netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
		netip.MustParsePrefix("::/96"),           // IPv4-compatible (and :: and ::1)
		netip.MustParsePrefix("64:ff9b::/96"),    // NAT64
		netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
		netip.MustParsePrefix("100::/64"),        // discard-only
		netip.MustParsePrefix("2001::/32"),       // Teredo
		netip.MustParsePrefix("2002::/16"),       // 6to4
		netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
		netip.MustParsePrefix("fd00:ec2::/32"),   // the EC2 metadata service over IPv6 (inside fc00::/7 as well)
		netip.MustParsePrefix("ff00::/8"),        // multicast
		netip.MustParsePrefix("2001:db8::/32"),   // documentation
		netip.MustParsePrefix("198.51.100.0/24"), // documentation
		netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	}
})

// PublicAddr reports whether a webhook may connect to ip: a global unicast
// address outside every private, shared and translated range. An
// IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
func PublicAddr(ip netip.Addr) bool {
	ip = ip.WithZone("")
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, p := range nonPublic() {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// loopbackAddr reports whether ip is loopback, also as IPv4-mapped IPv6.
func loopbackAddr(ip netip.Addr) bool {
	return ip.WithZone("").Unmap().IsLoopback()
}

// allowedAddr is what a delivery may connect to: public addresses, and
// loopback ones only where allowLoopback (the local runner).
func allowedAddr(ip netip.Addr, allowLoopback bool) bool {
	return PublicAddr(ip) || (allowLoopback && loopbackAddr(ip))
}

// dialControl is the dialer's last word on every connection, after name
// resolution: address is the IP and port about to be connected.
func dialControl(allowLoopback func() bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !allowedAddr(ap.Addr(), allowLoopback != nil && allowLoopback()) {
			return errRefusedAddress
		}
		return nil
	}
}

// localhostName reports whether host is a name every resolver keeps on the
// machine itself: localhost and its subdomains (RFC 6761), with or without
// the root's trailing dot.
func localhostName(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// hostAddr reads host as an IP address where it is one. A host whose last
// label is a number is an address to some resolver (127.1, 2130706433,
// 0177.0.0.1, 0x7f.0.0.1 all reach 127.0.0.1 through the C library), and
// is accepted only in the usual dotted-quad form; ok is false for the
// others, so no such trick reaches a resolver.
func hostAddr(host string) (ip netip.Addr, literal, ok bool) {
	if strings.Contains(host, ":") { // IPv6, as url.Hostname gives it
		ip, err := netip.ParseAddr(host)
		return ip, true, err == nil
	}
	labels := strings.Split(strings.TrimSuffix(strings.ToLower(host), "."), ".")
	if !numericLabel(labels[len(labels)-1]) {
		return netip.Addr{}, false, true // a name
	}
	ip, err := netip.ParseAddr(host)
	return ip, true, err == nil && ip.Is4()
}

// numericLabel reports whether a DNS label reads as a number: decimal,
// octal, or hex (0x…). No top-level domain is numeric.
func numericLabel(l string) bool {
	if strings.HasPrefix(l, "0x") {
		l = l[2:]
		return strings.Trim(l, "0123456789abcdef") == ""
	}
	return l != "" && strings.Trim(l, "0123456789") == ""
}
