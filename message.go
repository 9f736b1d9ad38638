package clinicsync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Text is a sentence for a person kept as a key and its arguments, so that
// it is put in the reader's language when it is shown, not when it is
// written: a line of the activity log stored while the window spoke
// English reads in French once the window does.
//
// The key is the English sentence with fmt verbs where the arguments go:
// it is both the English rendering and the key of the translations
// (assets/translations, keyed by the English text). A key without
// arguments is shown as it is (no fmt verbs are read in it), so a sentence
// from elsewhere (an error's Message) can be a key too: it is translated
// when a translation has it, and shown as it is otherwise.
//
// Arguments are strings (names, file names, paths, a server's words: shown
// as they are), integers, and Texts (a part that is translated too: the
// reason of a failure). NewText turns anything else into one of these, so
// that a Text reads back from JSON as it was written.
type Text struct {
	Key  string `json:"key"`
	Args []any  `json:"args,omitempty"`
}

// NewText returns the Text of key with args: integers become int64, an
// error its ErrorText, a Text stays a Text, a fmt.Stringer its String, and
// anything else its fmt.Sprint.
func NewText(key string, args ...any) Text {
	t := Text{Key: key}
	if len(args) > 0 {
		t.Args = make([]any, len(args))
		for i, a := range args {
			t.Args[i] = textArg(a)
		}
	}
	return t
}

func textArg(a any) any {
	switch v := a.(type) {
	case string, int64, Text:
		return v
	case int:
		return int64(v)
	case int8:
		return int64(v)
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case uint8:
		return int64(v)
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	case uint:
		return int64(v)
	case uint64:
		return int64(v)
	case error:
		return ErrorText(v)
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(a)
}

// IsZero reports whether t is the zero Text (no key).
func (t Text) IsZero() bool { return t.Key == "" && len(t.Args) == 0 }

// String is the English rendering.
func (t Text) String() string { return t.Render(nil) }

// Render puts t in a language: tr gives the format for a key (its
// translation, or the key itself when there is none); nil is English.
// Text arguments are rendered with the same tr.
func (t Text) Render(tr func(key string) string) string {
	f := t.Key
	if tr != nil {
		f = tr(f)
	}
	if len(t.Args) == 0 {
		return f
	}
	args := make([]any, len(t.Args))
	for i, a := range t.Args {
		if n, ok := a.(Text); ok {
			args[i] = n.Render(tr)
		} else {
			args[i] = a
		}
	}
	return fmt.Sprintf(f, args...)
}

// Clean returns t with CleanText applied to its key and every string in
// its arguments, at every depth: platform text in a Text is as safe to
// show on one line as a cleaned message.
func (t Text) Clean() Text {
	out := Text{Key: CleanText(t.Key)}
	if len(t.Args) > 0 {
		out.Args = make([]any, len(t.Args))
		for i, a := range t.Args {
			switch v := a.(type) {
			case string:
				out.Args[i] = CleanText(v)
			case Text:
				out.Args[i] = v.Clean()
			default:
				out.Args[i] = v
			}
		}
	}
	return out
}

// UnmarshalJSON reads a Text as MarshalJSON (the default) wrote it: string,
// integer and Text arguments come back as they were.
func (t *Text) UnmarshalJSON(b []byte) error {
	var raw struct {
		Key  string          `json:"key"`
		Args json.RawMessage `json:"args"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	args, err := DecodeTextArgs(raw.Args)
	if err != nil {
		return err
	}
	t.Key, t.Args = raw.Key, args
	return nil
}

// DecodeTextArgs reads the JSON array of a Text's arguments (as
// json.Marshal(t.Args) writes it). Empty input is no arguments.
func DecodeTextArgs(b []byte) ([]any, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil, nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, nil
	}
	args := make([]any, len(raw))
	for i, r := range raw {
		r = bytes.TrimSpace(r)
		if len(r) == 0 {
			return nil, errors.New("empty argument")
		}
		switch r[0] {
		case '"':
			var s string
			if err := json.Unmarshal(r, &s); err != nil {
				return nil, err
			}
			args[i] = s
		case '{':
			var n Text
			if err := json.Unmarshal(r, &n); err != nil {
				return nil, err
			}
			args[i] = n
		default:
			var n json.Number
			if err := json.Unmarshal(r, &n); err != nil {
				return nil, fmt.Errorf("argument %d: %s is no string, integer or text", i, r)
			}
			v, err := n.Int64()
			if err != nil {
				return nil, fmt.Errorf("argument %d: %s is no integer", i, r)
			}
			args[i] = v
		}
	}
	return args, nil
}

// ErrorText returns the human sentence of err as a Text: the key and
// arguments its first *Error was made from (Errorf, Retryablef,
// Permanentf), else ErrorMessage(err) as a key of its own, translated when
// a translation has that very sentence. Its English rendering is always
// ErrorMessage(err).
func ErrorText(err error) Text {
	var e *Error
	if errors.As(err, &e) && e.Key != "" && e.Message != "" {
		if t := NewText(e.Key, e.Args...); t.String() == e.Message {
			return t
		}
	}
	return Text{Key: ErrorMessage(err)}
}
