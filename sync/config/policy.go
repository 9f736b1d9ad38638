package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/clinicsync/clinicsync"
)

// An administrator's settings (policy) are a layer over the user's file:
//
//	default < policy (a preset) < the user's file < policy (locked)
//
// A value the policy sets is the default the user starts from, and may
// change in Settings; a value it also locks wins over the user's file, shows
// read-only in Settings and cannot be saved changed. A locked key the policy
// gives no value for is locked at the built-in default.
//
// A policy is read from several places (SystemPolicy lists them for this
// OS, highest precedence first); each names values either like the MSI's
// public properties (DESTINATION_ROOT, see PolicyNames) or like the keys of
// the configuration file (destination.root), and its LOCK value (lock in a
// file) lists the names of the locked ones.

// Source is where an effective value came from (status --json).
type Source string

const (
	FromDefault Source = "default"
	FromFile    Source = "user file"
	FromPolicy  Source = "policy"
	FromEnv     Source = "environment"
)

// PolicyNames are the MSI's public properties that preset a setting, and
// the key of the configuration file each one sets (UPDATES=0 turns the
// update check off; updates.url and updates.pin are set by their keys).
var PolicyNames = map[string]string{
	"API_URL":          "askara.api_url",
	"DESTINATION_ROOT": "destination.root",
	"PATIENT_FOLDER":   "destination.patient_folder",
	"SOFTWARE_ID":      "destination.software_id",
	"POLL_INTERVAL":    "askara.poll_interval",
	"NOTES":            "notes.enabled",
	"RELAY":            "relay.enabled",
	"AUTOSTART":        "app.start_at_login",
	"UPDATES":          "updates.enabled",
}

// lockName is the value (registry) or key (file) that lists the locked names.
const lockName = "LOCK"

// PolicySource is one place an administrator's settings are read from.
type PolicySource struct {
	// Where names it for people: a registry key or a file's path.
	Where string
	// Read returns the values it holds by name, as text; none (nil, nil)
	// when the key or file does not exist. A name is an MSI property
	// name, a key of the configuration file or LOCK.
	Read func() (map[string]string, error)
}

// PolicyFile is a TOML policy file: the configuration file's sections and
// keys, and a top-level lock = ["destination.root", ...].
func PolicyFile(path string) PolicySource {
	return PolicySource{Where: path, Read: func() (map[string]string, error) {
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var doc map[string]any
		if _, err := toml.Decode(string(b), &doc); err != nil {
			return nil, err
		}
		out := map[string]string{}
		for name, v := range doc {
			sec, ok := v.(map[string]any)
			if !ok {
				if out[name], err = tomlText(v); err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				continue
			}
			for k, v := range sec {
				if out[name+"."+k], err = tomlText(v); err != nil {
					return nil, fmt.Errorf("%s.%s: %w", name, k, err)
				}
			}
		}
		return out, nil
	}}
}

// tomlText is a TOML value as the text a registry value would hold: lists
// joined with commas.
func tomlText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, err := tomlText(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("a %T is not a setting's value", v)
}

// Policy is what administrators set, merged from every source.
type Policy struct {
	values Config            // Default() with the policy's values on top
	set    map[string]string // key -> where its value was set
	locked map[string]string // key -> where it was locked
}

// ReadPolicy reads and merges sources, highest precedence first: a key
// takes its value from the first source that sets it; a key any of them
// locks is locked. A source that cannot be read, or holds a name or a
// value that means nothing, is a configuration error naming it.
func ReadPolicy(sources []PolicySource) (Policy, error) {
	p := Policy{values: Default(), set: map[string]string{}, locked: map[string]string{}}
	for _, src := range sources {
		vals, err := src.Read()
		if err != nil {
			return Policy{values: Default()}, clinicsync.Permanent(clinicsync.EConfig,
				fmt.Sprintf("The administrator's settings in %s cannot be read: %v.", src.Where, err), err)
		}
		names := make([]string, 0, len(vals))
		for n := range vals {
			names = append(names, n)
		}
		sort.Strings(names)
		var probs []string
		for _, name := range names {
			text := strings.TrimSpace(vals[name])
			if text == "" { // the MSI writes every property, empty when not given
				continue
			}
			if strings.EqualFold(name, lockName) {
				for _, n := range splitList(text) {
					key, ok := policyKey(n)
					switch {
					case !ok:
						probs = append(probs, fmt.Sprintf("%s names %q, which is not a setting", lockName, n))
					case key != "":
						if _, seen := p.locked[key]; !seen {
							p.locked[key] = src.Where
						}
					}
				}
				continue
			}
			key, ok := policyKey(name)
			if !ok {
				probs = append(probs, fmt.Sprintf("%q is not a setting", name))
				continue
			}
			if key == "" {
				continue
			}
			if _, seen := p.set[key]; seen {
				continue
			}
			if err := setText(&p.values, key, text); err != nil {
				probs = append(probs, fmt.Sprintf("%s %v", name, err))
				continue
			}
			p.set[key] = src.Where
		}
		if len(probs) > 0 {
			return Policy{values: Default()}, clinicsync.Errorf(clinicsync.EConfig,
				"The administrator's settings in %s have problems: %s.", src.Where, strings.Join(probs, "; "))
		}
	}
	return p, nil
}

// policyKey is the configuration key a policy name stands for: an MSI
// property name (any case) or a key of the file.
func policyKey(name string) (string, bool) {
	if key, ok := PolicyNames[strings.ToUpper(name)]; ok {
		return key, true
	}
	if _, err := field(&Config{}, name); err == nil {
		return name, true
	}
	return "", false
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' })
}

// Locked reports whether key ("destination.root") is locked.
func (p Policy) Locked(key string) bool {
	_, ok := p.locked[key]
	return ok
}

// LockedKeys are the locked keys, sorted.
func (p Policy) LockedKeys() []string { return sortedKeys(p.locked) }

// SetKeys are the keys the policy gives a value for, sorted.
func (p Policy) SetKeys() []string { return sortedKeys(p.set) }

// Where says where key's value, or its lock, was set ("" if nowhere).
func (p Policy) Where(key string) string {
	if w, ok := p.set[key]; ok {
		return w
	}
	return p.locked[key]
}

// Empty reports whether the policy sets and locks nothing.
func (p Policy) Empty() bool { return len(p.set) == 0 && len(p.locked) == 0 }

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Apply layers the policy over the user's configuration user, whose file
// sets the keys userSet (config.LoadFile), and says where each effective
// value came from.
func (p Policy) Apply(user Config, userSet map[string]bool) (Config, map[string]Source) {
	c := user
	src := map[string]Source{}
	for _, key := range Keys() {
		switch {
		case p.Locked(key):
			copyKey(&c, p.values, key)
			src[key] = FromPolicy
			if _, ok := p.set[key]; !ok {
				src[key] = FromDefault
			}
		case userSet[key]:
			src[key] = FromFile
		case p.set[key] != "":
			copyKey(&c, p.values, key)
			src[key] = FromPolicy
		default:
			src[key] = FromDefault
		}
	}
	return c, src
}

// Refuse lists, as problems, the locked values c changes: saving cannot
// change what the administrator locked.
func (p Policy) Refuse(c Config) []Problem {
	var probs []Problem
	for _, key := range p.LockedKeys() {
		if !sameKey(c, p.values, key) {
			probs = append(probs, Problem{Key: key, Message: "is set by your IT administrator and cannot be changed here"})
		}
	}
	return probs
}

// Omit are the keys of c the user's file leaves out: the locked ones, and
// those whose value is the policy's (they follow the policy when it changes).
func (p Policy) Omit(c Config) map[string]bool {
	out := map[string]bool{}
	for key := range p.locked {
		out[key] = true
	}
	for key := range p.set {
		if sameKey(c, p.values, key) {
			out[key] = true
		}
	}
	return out
}

// Keys are every key of the file ("askara.api_url"), in file order.
func Keys() []string {
	var keys []string
	ct := reflect.TypeOf(Config{})
	for i := range ct.NumField() {
		sec := ct.Field(i)
		for j := range sec.Type.NumField() {
			keys = append(keys, tomlName(sec)+"."+tomlName(sec.Type.Field(j)))
		}
	}
	return keys
}

func tomlName(f reflect.StructField) string {
	n, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	return n
}

// field is the addressable value of key in c.
func field(c *Config, key string) (reflect.Value, error) {
	secName, name, ok := strings.Cut(key, ".")
	if ok {
		cv := reflect.ValueOf(c).Elem()
		for i := range cv.NumField() {
			if tomlName(cv.Type().Field(i)) != secName {
				continue
			}
			sv := cv.Field(i)
			for j := range sv.NumField() {
				if tomlName(sv.Type().Field(j)) == name {
					return sv.Field(j), nil
				}
			}
		}
	}
	return reflect.Value{}, fmt.Errorf("%q is not a key of the configuration", key)
}

func copyKey(dst *Config, src Config, key string) {
	d, _ := field(dst, key)
	s, _ := field(&src, key)
	d.Set(s)
}

// sameKey compares key in a and b; an empty list equals no list.
func sameKey(a, b Config, key string) bool {
	x, _ := field(&a, key)
	y, _ := field(&b, key)
	if x.Kind() == reflect.Slice {
		return slices.Equal(x.Interface().([]string), y.Interface().([]string))
	}
	return reflect.DeepEqual(x.Interface(), y.Interface())
}

// setText sets key in c from text as a registry value holds it: a
// duration as 45s or a number of seconds, a yes/no as 1/0 or true/false,
// a list separated by commas.
func setText(c *Config, key, text string) error {
	v, err := field(c, key)
	if err != nil {
		return err
	}
	switch p := v.Addr().Interface().(type) {
	case *string:
		*p = text
	case *bool:
		switch strings.ToLower(text) {
		case "1", "true", "yes", "on":
			*p = true
		case "0", "false", "no", "off":
			*p = false
		default:
			return fmt.Errorf("%q is not 1 or 0", text)
		}
	case *int:
		n, err := strconv.Atoi(text)
		if err != nil {
			return fmt.Errorf("%q is not a number", text)
		}
		*p = n
	case *Duration:
		if n, err := strconv.Atoi(text); err == nil {
			p.Duration = time.Duration(n) * time.Second
		} else if err := p.UnmarshalText([]byte(text)); err != nil {
			return err
		}
	case *[]string:
		*p = splitList(text)
	default:
		return fmt.Errorf("cannot be set by a policy (%T)", p)
	}
	return nil
}
