// Package egress makes the HTTP clients berth uses to call servers that
// admins or users name (OpenID providers today), and keeps them off the
// internal network: unless private addresses are allowed, a connection to a
// loopback, link-local, private, unspecified, multicast or otherwise
// non-public address is refused.
//
// The check runs at dial time, on the address the name resolved to, for
// every connection the client opens (redirects included), so a host name
// that resolves to a public address when a URL is validated and to
// 127.0.0.1 when it is fetched (DNS rebinding) is still refused.
package egress

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrPrivateAddress is the cause of a refused connection; match it with
// errors.Is.
var ErrPrivateAddress = errors.New("private or local address refused")

// AddressError is a connection refused because of its address.
type AddressError struct {
	Addr netip.Addr
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("connecting to %s: %v", e.Addr, ErrPrivateAddress)
}

// Is makes errors.Is(err, ErrPrivateAddress) true.
func (e *AddressError) Is(target error) bool { return target == ErrPrivateAddress }

// Options configure a client.
type Options struct {
	// AllowPrivate lets the client reach every address.
	AllowPrivate bool
	// Timeout bounds a whole request, redirects and body included; 0 means 15s.
	Timeout time.Duration
}

// NewClient returns an HTTP client for outgoing calls. Without AllowPrivate
// it never uses a proxy from the environment: a proxy resolves names itself,
// where the address check cannot see them.
func NewClient(o Options) *http.Client {
	if o.Timeout == 0 {
		o.Timeout = 15 * time.Second
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          20,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: o.Timeout,
	}
	if !o.AllowPrivate {
		dialer.Control = refusePrivate
		t.Proxy = nil
	}
	return &http.Client{Transport: t, Timeout: o.Timeout}
}

// refusePrivate is a net.Dialer Control function: it runs after name
// resolution, once per address tried, before the socket connects.
func refusePrivate(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dialing %s: unexpected address: %w", address, err)
	}
	if !Public(ap.Addr()) {
		return &AddressError{Addr: ap.Addr().Unmap()}
	}
	return nil
}

// nonPublic are ranges that the netip predicates do not name but that are
// not the public internet either.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking (RFC 2544)
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and the broadcast address
	netip.MustParsePrefix("::/96"),          // deprecated IPv4-compatible addresses
	netip.MustParsePrefix("100::/64"),       // discard-only (RFC 6666)
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64 (RFC 8215)
	netip.MustParsePrefix("2001::/32"),      // Teredo tunnels to arbitrary IPv4 hosts
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
}

// Addresses that carry an IPv4 address: they count as the address they carry.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Public reports whether addr is an address on the public internet: not
// loopback, link-local, private (RFC 1918, fc00::/7), unspecified,
// multicast, nor one of the reserved ranges that lead back inside (NAT64
// and 6to4 addresses count as the IPv4 address they carry).
func Public(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.IsLoopback() || addr.IsPrivate() || addr.IsUnspecified() || addr.IsMulticast() ||
		addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() {
		return false
	}
	if addr.Is6() {
		b := addr.As16()
		switch {
		case nat64.Contains(addr):
			return Public(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		case sixToFour.Contains(addr):
			return Public(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	for _, p := range nonPublic {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}
