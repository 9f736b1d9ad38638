package netclient

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	ntlmssp "github.com/Azure/go-ntlmssp"
)

// dialNTLM opens a tunnel to addr through the proxy at proxyHost, signing
// in with NTLM: the negotiate, challenge and authenticate messages travel
// on one connection (NTLM authenticates a connection, not a request), so
// the CONNECT is sent here rather than by net/http. The transport then
// speaks TLS (or plain HTTP) through the tunnel.
func (c *Client) dialNTLM(ctx context.Context, proxyHost, addr string) (net.Conn, error) {
	conn, err := c.dialTimed(ctx, "tcp", proxyHost)
	if err != nil {
		return nil, &net.OpError{Op: "proxyconnect", Net: "tcp", Err: err}
	}
	deadline := time.Now().Add(HeaderTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	tunnel, err := c.ntlmHandshake(conn, proxyHost, addr)
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return tunnel, nil
}

func (c *Client) ntlmHandshake(conn net.Conn, proxyHost, addr string) (net.Conn, error) {
	c.mu.Lock()
	user, pass := c.user, c.pass
	c.mu.Unlock()
	host, _ := os.Hostname()
	negotiate, err := ntlmssp.NewNegotiateMessage("", "")
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := connect(conn, br, addr, "NTLM "+base64.StdEncoding.EncodeToString(negotiate))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusProxyAuthRequired {
		return tunnelOrError(conn, br, resp, proxyHost, addr)
	}
	challenge := ""
	for _, v := range resp.Header.Values("Proxy-Authenticate") {
		if s, data, ok := strings.Cut(strings.TrimSpace(v), " "); ok && (strings.EqualFold(s, "NTLM") || strings.EqualFold(s, "Negotiate")) {
			challenge = strings.TrimSpace(data)
		}
	}
	if challenge == "" || resp.Close {
		// No challenge on this connection: the proxy does not do NTLM
		// here, or closes the connection between the steps.
		return nil, &ProxyAuthError{Proxy: proxyHost, Schemes: schemes(resp.Header), Refused: true}
	}
	raw, err := base64.StdEncoding.DecodeString(challenge)
	if err != nil {
		return nil, &ProxyAuthError{Proxy: proxyHost, Schemes: schemes(resp.Header), Refused: true}
	}
	auth, err := ntlmssp.NewAuthenticateMessage(raw, user, pass, &ntlmssp.AuthenticateMessageOptions{WorkstationName: host})
	if err != nil {
		return nil, &ProxyAuthError{Proxy: proxyHost, Schemes: schemes(resp.Header), Refused: true}
	}
	resp, err = connect(conn, br, addr, "NTLM "+base64.StdEncoding.EncodeToString(auth))
	if err != nil {
		return nil, err
	}
	return tunnelOrError(conn, br, resp, proxyHost, addr)
}

// connect sends CONNECT addr with a Proxy-Authorization and reads the
// answer, its body consumed so the connection can carry the next step.
func connect(conn net.Conn, br *bufio.Reader, addr, authorization string) (*http.Response, error) {
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: addr}, Host: addr,
		Header: http.Header{"Proxy-Authorization": {authorization}, "Proxy-Connection": {"Keep-Alive"}}}
	if err := req.Write(conn); err != nil {
		return nil, &net.OpError{Op: "proxyconnect", Net: "tcp", Err: err}
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, &net.OpError{Op: "proxyconnect", Net: "tcp", Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		drain(resp.Body)
	}
	return resp, nil
}

func tunnelOrError(conn net.Conn, br *bufio.Reader, resp *http.Response, proxyHost, addr string) (net.Conn, error) {
	switch resp.StatusCode {
	case http.StatusOK:
		if br.Buffered() > 0 {
			return nil, errors.New("the proxy sent data before the tunnel was used")
		}
		return conn, nil
	case http.StatusProxyAuthRequired:
		return nil, &ProxyAuthError{Proxy: proxyHost, Schemes: schemes(resp.Header), Refused: true}
	}
	return nil, &ProxyStatusError{Proxy: proxyHost, Target: addr, Status: resp.StatusCode}
}
