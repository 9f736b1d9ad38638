package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/zalando/go-keyring"

	"github.com/clinicsync/clinicsync"
)

// Saved is what survives a restart: the refresh token and who it belongs
// to. The access token stays in memory only (it is short-lived, and a JWT
// can be larger than Windows Credential Manager's 2,560 bytes).
type Saved struct {
	RefreshToken string `json:"refresh_token"`
	Account      string `json:"account,omitempty"` // "Dr Jane Doe, Cabinet X" for status; no secret
}

// TokenStore keeps Saved somewhere safe.
type TokenStore interface {
	Load() (*Saved, error) // (nil, nil) when nothing is stored
	Save(*Saved) error
	Delete() error
	// Check reports whether Save can work now, without changing what is
	// stored: a sign-in checks it before the browser, so nobody is shown
	// "Signed in" for a sign-in that cannot be kept.
	Check() error
}

// chunkSize keeps each credential well inside Windows' 2,560-byte limit
// (the value is stored as UTF-16 there) and macOS's ~3 KB.
const chunkSize = 1000

// Keychain stores Saved in the OS keychain (Windows Credential Manager,
// macOS Keychain, Secret Service on Linux) through go-keyring, split into
// chunks when it is larger than one credential may be.
type Keychain struct {
	Service string // e.g. "Clinic Sync"
	User    string // e.g. "askara:https://api.askara.ai"
}

// ErrNoKeychain is returned when the OS offers no keychain.
var ErrNoKeychain = errors.New("no keychain")

func (k Keychain) key(i int) string {
	if i == 0 {
		return k.User
	}
	return k.User + "#" + strconv.Itoa(i)
}

func keychainError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if strings.Contains(msg, "dbus") || strings.Contains(msg, "secret") || strings.Contains(msg, "org.freedesktop") ||
		strings.Contains(msg, "not supported") || strings.Contains(msg, "executable file not found") {
		return &clinicsync.Error{Code: clinicsync.EConfig, Err: errors.Join(ErrNoKeychain, err),
			Message: "No keychain is available on this computer (no Secret Service); for headless use set CLINICSYNC_ACCESS_TOKEN instead."}
	}
	return &clinicsync.Error{Code: clinicsync.EInternal, Message: "The keychain refused the operation.", Err: err}
}

// Load reads the saved sign-in, or nil when there is none.
func (k Keychain) Load() (*Saved, error) {
	head, err := keyring.Get(k.Service, k.key(0))
	if errors.Is(err, keyring.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, keychainError(err)
	}
	// head is "n:<first chunk>" where n is the number of chunks.
	nstr, first, ok := strings.Cut(head, ":")
	n, err := strconv.Atoi(nstr)
	if !ok || err != nil || n < 1 || n > 64 {
		return nil, clinicsync.Errorf(clinicsync.ESignedOut, "The saved sign-in is damaged; sign in again.")
	}
	var b strings.Builder
	b.WriteString(first)
	for i := 1; i < n; i++ {
		part, err := keyring.Get(k.Service, k.key(i))
		if err != nil {
			return nil, clinicsync.Errorf(clinicsync.ESignedOut, "The saved sign-in is incomplete; sign in again.")
		}
		b.WriteString(part)
	}
	var s Saved
	if err := json.Unmarshal([]byte(b.String()), &s); err != nil {
		return nil, clinicsync.Errorf(clinicsync.ESignedOut, "The saved sign-in is damaged; sign in again.")
	}
	return &s, nil
}

// Save writes s, replacing what was there. The chunks after the head are
// written first and the head last, so a crash never pairs a new head with
// old chunks of a different count.
func (k Keychain) Save(s *Saved) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	var parts []string
	for len(raw) > 0 {
		n := min(chunkSize, len(raw))
		parts = append(parts, string(raw[:n]))
		raw = raw[n:]
	}
	if len(parts) == 0 {
		parts = []string{""}
	}
	old := k.count()
	for i := len(parts) - 1; i >= 1; i-- {
		if err := keyring.Set(k.Service, k.key(i), parts[i]); err != nil {
			return keychainError(err)
		}
	}
	if err := keyring.Set(k.Service, k.key(0), fmt.Sprintf("%d:%s", len(parts), parts[0])); err != nil {
		return keychainError(err)
	}
	for i := len(parts); i < old; i++ {
		_ = keyring.Delete(k.Service, k.key(i))
	}
	return nil
}

// Check writes and deletes a probe entry through the calls Save uses: only
// a keychain that has just saved something is known to be usable (a
// session bus without a keyring daemon, or a locked keychain, fails here).
func (k Keychain) Check() error {
	user := k.User + "#check" // never one of Save's keys (those end in a number)
	if err := keyring.Set(k.Service, user, "check"); err != nil {
		return keychainError(err)
	}
	if err := keyring.Delete(k.Service, user); err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return keychainError(err)
	}
	return nil
}

// count returns how many chunks are stored now (0 if none).
func (k Keychain) count() int {
	head, err := keyring.Get(k.Service, k.key(0))
	if err != nil {
		return 0
	}
	nstr, _, _ := strings.Cut(head, ":")
	n, _ := strconv.Atoi(nstr)
	return n
}

// Delete removes every chunk. Deleting nothing is not an error.
func (k Keychain) Delete() error {
	n := max(k.count(), 1)
	for i := n - 1; i >= 0; i-- {
		if err := keyring.Delete(k.Service, k.key(i)); err != nil && !errors.Is(err, keyring.ErrNotFound) {
			return keychainError(err)
		}
	}
	return nil
}

// clientSecretUser is the keychain entry of a client secret Askara issued.
func clientSecretUser(clientID string) string { return "client_secret:" + clientID }

// ClientSecret returns the client secret kept in the keychain for
// clientID, "" when none is kept or no keychain answers.
func ClientSecret(service, clientID string) string {
	v, err := keyring.Get(service, clientSecretUser(clientID))
	if err != nil {
		return ""
	}
	return v
}

// SetClientSecret keeps a client secret in the keychain ("" deletes it).
func SetClientSecret(service, clientID, secret string) error {
	if secret == "" {
		if err := keyring.Delete(service, clientSecretUser(clientID)); err != nil && !errors.Is(err, keyring.ErrNotFound) {
			return keychainError(err)
		}
		return nil
	}
	return keychainError(keyring.Set(service, clientSecretUser(clientID), secret))
}

// webhookSecretUser is the keychain entry of a platform's webhook signing secret.
func webhookSecretUser(platform string) string { return "webhook_secret:" + platform }

// WebhookSecret returns a platform's webhook signing secret:
// CLINICSYNC_<PLATFORM>_WEBHOOK_SECRET when set (headless use), else the
// keychain's, else "".
func WebhookSecret(service, platform string) string {
	if v := strings.TrimSpace(os.Getenv("CLINICSYNC_" + strings.ToUpper(platform) + "_WEBHOOK_SECRET")); v != "" {
		return v
	}
	v, err := keyring.Get(service, webhookSecretUser(platform))
	if err != nil {
		return ""
	}
	return v
}

// SetWebhookSecret keeps a platform's signing secret in the keychain ("" deletes it).
func SetWebhookSecret(service, platform, secret string) error {
	if secret == "" {
		if err := keyring.Delete(service, webhookSecretUser(platform)); err != nil && !errors.Is(err, keyring.ErrNotFound) {
			return keychainError(err)
		}
		return nil
	}
	return keychainError(keyring.Set(service, webhookSecretUser(platform), secret))
}

// proxyUser is the keychain entry of the proxy sign-in (one for the
// clinic's proxy, whichever address the system or a script names).
const proxyUser = "proxy"

type proxySignIn struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// ProxyCredentials returns the proxy sign-in kept in the keychain:
// CLINICSYNC_PROXY_USER and CLINICSYNC_PROXY_PASSWORD when both are set
// (headless use), else the keychain's; ok false when there is none.
func ProxyCredentials(service string) (user, password string, ok bool) {
	if u, p := os.Getenv("CLINICSYNC_PROXY_USER"), os.Getenv("CLINICSYNC_PROXY_PASSWORD"); u != "" && p != "" {
		return u, p, true
	}
	v, err := keyring.Get(service, proxyUser)
	if err != nil {
		return "", "", false
	}
	var s proxySignIn
	if json.Unmarshal([]byte(v), &s) != nil || s.User == "" {
		return "", "", false
	}
	return s.User, s.Password, true
}

// SetProxyCredentials keeps the proxy sign-in in the keychain (an empty
// user deletes it). A Windows domain user is written DOMAIN\user.
func SetProxyCredentials(service, user, password string) error {
	if user == "" {
		if err := keyring.Delete(service, proxyUser); err != nil && !errors.Is(err, keyring.ErrNotFound) {
			return keychainError(err)
		}
		return nil
	}
	b, err := json.Marshal(proxySignIn{User: user, Password: password})
	if err != nil {
		return err
	}
	return keychainError(keyring.Set(service, proxyUser, string(b)))
}
