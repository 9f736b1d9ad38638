// Package testproxy is a small forward proxy for tests: CONNECT tunnels
// and plain forwarding, to host names only it can resolve (a fixed map to
// loopback addresses: it never looks a name up), with an optional Basic
// or NTLM sign-in and an optional TLS inspection that re-signs every
// tunnel with its own certificate authority, as a clinic's firewall or
// antivirus does. It records what it was asked. The tests of
// sync/netclient and sync/askara, and the Windows smoke test under Wine,
// run against it.
package testproxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
)

// Options configure a Proxy.
type Options struct {
	// Hosts maps the host names the proxy can reach (any port) to a
	// loopback host:port. Any other name gets 502 Bad Gateway.
	Hosts map[string]string
	// Basic, "user:password", asks every request for that Basic sign-in.
	Basic string
	// NTLMUser asks for an NTLM sign-in (connection-bound) by that user;
	// the proxy checks the message types and the user name, not the
	// password's cryptography.
	NTLMUser string
	// Inspect re-signs every tunnel with this authority: the client sees
	// a certificate for the host it asked, issued by Inspect.
	Inspect *CA
}

// Seen is one request the proxy received.
type Seen struct {
	Method string // CONNECT, GET, POST...
	Target string // host:port for CONNECT, the absolute URL otherwise
	Auth   string // the Proxy-Authorization scheme sent ("Basic", "NTLM"), "" for none
	Status int    // what the proxy answered (200 for a tunnel opened)
}

// Proxy is a running proxy.
type Proxy struct {
	Addr string // 127.0.0.1:port
	o    Options
	ln   net.Listener

	mu    sync.Mutex
	seen  []Seen
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// Start listens on a free loopback port.
func Start(o Options) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: ln.Addr().String(), o: o, ln: ln, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// URL is http://127.0.0.1:port.
func (p *Proxy) URL() string { return "http://" + p.Addr }

// Seen returns what the proxy was asked, in order.
func (p *Proxy) Seen() []Seen {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Seen(nil), p.seen...)
}

// Close stops the proxy and its connections.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns[c] = true
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(c)
			p.mu.Lock()
			delete(p.conns, c)
			p.mu.Unlock()
			c.Close()
		}()
	}
}

func (p *Proxy) record(s Seen) {
	p.mu.Lock()
	p.seen = append(p.seen, s)
	p.mu.Unlock()
}

// backend is the loopback address of target's host, "" when the proxy
// cannot resolve it.
func (p *Proxy) backend(target string) string {
	host := target
	if h, _, err := net.SplitHostPort(target); err == nil {
		host = h
	}
	return p.o.Hosts[strings.ToLower(host)]
}

// serve answers one client connection, request after request.
func (p *Proxy) serve(c net.Conn) {
	br := bufio.NewReader(c)
	ntlmOK := false // NTLM signs in the connection
	for {
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_ = c.SetReadDeadline(time.Time{})
		target := req.Host
		if req.Method != http.MethodConnect {
			target = req.URL.String()
		}
		seen := Seen{Method: req.Method, Target: target}
		auth := req.Header.Get("Proxy-Authorization")
		seen.Auth, _, _ = strings.Cut(auth, " ")
		if ok, challenge := p.authorized(auth, &ntlmOK); !ok {
			io.Copy(io.Discard, req.Body)
			seen.Status = http.StatusProxyAuthRequired
			p.record(seen)
			h := "Proxy-Authenticate: Basic realm=\"clinic\"\r\n"
			if p.o.NTLMUser != "" {
				h = "Proxy-Authenticate: NTLM" + challenge + "\r\n"
			}
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\n"+h+"Content-Length: 0\r\n\r\n")
			continue
		}
		if req.Method == http.MethodConnect {
			p.tunnel(c, br, req, seen)
			return
		}
		if !p.forward(c, req, seen) || req.Close {
			return
		}
	}
}

// authorized checks a request's sign-in; for NTLM it also returns the
// challenge to send (" <base64>") after a negotiate message.
func (p *Proxy) authorized(auth string, ntlmOK *bool) (bool, string) {
	switch {
	case p.o.NTLMUser != "":
		if *ntlmOK {
			return true, ""
		}
		scheme, data, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "NTLM") {
			return false, ""
		}
		msg, err := base64.StdEncoding.DecodeString(strings.TrimSpace(data))
		if err != nil || len(msg) < 12 || !bytes.HasPrefix(msg, []byte("NTLMSSP\x00")) {
			return false, ""
		}
		switch binary.LittleEndian.Uint32(msg[8:12]) {
		case 1:
			return false, " " + base64.StdEncoding.EncodeToString(challengeMessage())
		case 3:
			if bytes.Contains(msg, utf16le(p.o.NTLMUser)) {
				*ntlmOK = true
				return true, ""
			}
		}
		return false, ""
	case p.o.Basic != "":
		return auth == "Basic "+base64.StdEncoding.EncodeToString([]byte(p.o.Basic)), ""
	}
	return true, ""
}

// tunnel opens a CONNECT tunnel to the backend, re-signed when Inspect is set.
func (p *Proxy) tunnel(c net.Conn, br *bufio.Reader, req *http.Request, seen Seen) {
	addr := p.backend(req.Host)
	if addr == "" {
		seen.Status = http.StatusBadGateway
		p.record(seen)
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	up, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		seen.Status = http.StatusBadGateway
		p.record(seen)
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	defer up.Close()
	seen.Status = http.StatusOK
	p.record(seen)
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	var down io.ReadWriter = struct {
		io.Reader
		io.Writer
	}{br, c}
	if p.o.Inspect != nil {
		host, _, _ := net.SplitHostPort(req.Host)
		leaf, err := p.o.Inspect.Leaf(host)
		if err != nil {
			return
		}
		tc := tls.Server(&rwConn{Conn: c, r: br}, &tls.Config{Certificates: []tls.Certificate{leaf}})
		if err := tc.Handshake(); err != nil {
			return // the client refused the certificate: what the tests expect without ca_file
		}
		defer tc.Close()
		down = tc
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, down); done <- struct{}{} }()
	go func() { io.Copy(down, up); done <- struct{}{} }()
	<-done
}

// forward sends a plain request on to the backend and copies the answer
// back; false when the connection is to be closed.
func (p *Proxy) forward(c net.Conn, req *http.Request, seen Seen) bool {
	addr := p.backend(req.URL.Host)
	if addr == "" || req.URL.Scheme != "http" {
		seen.Status = http.StatusBadGateway
		p.record(seen)
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return true
	}
	out := req.Clone(context.Background())
	out.RequestURI = ""
	out.Header.Del("Proxy-Authorization")
	out.Header.Del("Proxy-Connection")
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
	}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(out)
	if err != nil {
		seen.Status = http.StatusBadGateway
		p.record(seen)
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return true
	}
	defer resp.Body.Close()
	seen.Status = resp.StatusCode
	p.record(seen)
	return resp.Write(c) == nil
}

// rwConn reads what the bufio.Reader already holds first.
type rwConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *rwConn) Read(b []byte) (int, error) { return c.r.Read(b) }

func utf16le(s string) []byte {
	var b []byte
	for _, r := range utf16.Encode([]rune(s)) {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}

// challengeMessage is an NTLM CHALLENGE (type 2): Unicode, NTLM, target
// info with the domain name.
func challengeMessage() []byte {
	domain := utf16le("CLINIC")
	var info bytes.Buffer
	binary.Write(&info, binary.LittleEndian, uint16(2)) // MsvAvNbDomainName
	binary.Write(&info, binary.LittleEndian, uint16(len(domain)))
	info.Write(domain)
	binary.Write(&info, binary.LittleEndian, uint32(0)) // MsvAvEOL
	const header = 48
	var m bytes.Buffer
	m.WriteString("NTLMSSP\x00")
	binary.Write(&m, binary.LittleEndian, uint32(2))
	// TargetName: len, maxlen, offset
	binary.Write(&m, binary.LittleEndian, uint16(len(domain)))
	binary.Write(&m, binary.LittleEndian, uint16(len(domain)))
	binary.Write(&m, binary.LittleEndian, uint32(header))
	// Flags: UNICODE | REQUEST_TARGET | NTLM | TARGET_TYPE_DOMAIN | TARGET_INFO
	binary.Write(&m, binary.LittleEndian, uint32(0x00000001|0x00000004|0x00000200|0x00010000|0x00800000))
	m.Write([]byte{1, 2, 3, 4, 5, 6, 7, 8}) // server challenge
	m.Write(make([]byte, 8))                // reserved
	binary.Write(&m, binary.LittleEndian, uint16(info.Len()))
	binary.Write(&m, binary.LittleEndian, uint16(info.Len()))
	binary.Write(&m, binary.LittleEndian, uint32(header+len(domain)))
	m.Write(domain)
	m.Write(info.Bytes())
	return m.Bytes()
}

// CA is a certificate authority made for a test: an inspecting proxy's,
// or a test server's.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA makes a self-signed authority named name.
func NewCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name, Organization: []string{name}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, key: key}, nil
}

// PEM is the authority's certificate, for a ca_file.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Leaf is a server certificate for host issued by the authority.
func (ca *CA) Leaf(host string) (tls.Certificate, error) {
	if host == "" {
		return tls.Certificate{}, errors.New("no host")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
