// Command gorender renders Go text/template cases read as JSON lines on stdin and
// writes one JSON line of result per case: the differential judge of
// vaultinject.templates. Only Go builtins plus a few pure consul-template
// functions (written here to behave as consul-template's) are defined.
package main

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"text/template"

	"gorender/dependency"
)

type testCase struct {
	ID         int               `json:"id"`
	Template   string            `json:"template"`
	Data       json.RawMessage   `json:"data"`
	Delims     []string          `json:"delims"`
	MissingKey string            `json:"missingkey"`
	Secrets    map[string]string `json:"secrets"`
	Lists      map[string][]string
	Env        map[string]string `json:"env"`
}

type result struct {
	ID  int    `json:"id"`
	OK  bool   `json:"ok"`
	Out string `json:"out_b64"`
	Err string `json:"err"`
}

// decodeTagged turns the tagged JSON of the test suite into typed Go values.
func decodeTagged(v interface{}) (interface{}, error) {
	switch t := v.(type) {
	case map[string]interface{}:
		if tag, ok := t["$t"].(string); ok && len(t) == 2 {
			return decodeTag(tag, t["v"])
		}
		out := make(map[string]interface{}, len(t))
		for k, item := range t {
			d, err := decodeTagged(item)
			if err != nil {
				return nil, err
			}
			out[k] = d
		}
		return out, nil
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, item := range t {
			d, err := decodeTagged(item)
			if err != nil {
				return nil, err
			}
			out[i] = d
		}
		return out, nil
	case json.Number:
		return nil, errors.New("untagged number")
	default:
		return t, nil
	}
}

func decodeTag(tag string, v interface{}) (interface{}, error) {
	switch tag {
	case "int":
		return strconv.Atoi(v.(string))
	case "float":
		return strconv.ParseFloat(v.(string), 64)
	case "num":
		return json.Number(v.(string)), nil
	case "byte":
		n, err := strconv.Atoi(v.(string))
		return uint8(n), err
	case "strs":
		items := v.([]interface{})
		out := make([]string, len(items))
		for i, item := range items {
			out[i] = item.(string)
		}
		return out, nil
	case "nilstrs":
		return []string(nil), nil
	case "strmap":
		items := v.(map[string]interface{})
		out := make(map[string]string, len(items))
		for k, item := range items {
			out[k] = item.(string)
		}
		return out, nil
	case "nilmap":
		return map[string]interface{}(nil), nil
	case "secret":
		return dependency.FromVaultJSON(v.(string))
	}
	return nil, fmt.Errorf("unknown tag %q", tag)
}

func kvPairs(rest []string) (map[string]string, error) {
	data := map[string]string{}
	for _, item := range rest {
		if item == "" {
			continue
		}
		parts := strings.SplitN(item, "=", 2)
		if len(parts) != 2 {
			return nil, fmt.Errorf("not k=v pair %q", item)
		}
		data[strings.TrimSpace(parts[0])] = strings.TrimSpace(parts[1])
	}
	return data, nil
}

// pemEncoded sorts the PEM blocks of a PKI answer's string fields as consul-template's pemsCert:
// the key, the leaf certificate, and the distinct CA certificates (issuing_ca first).
func pemEncoded(data map[string]interface{}) dependency.PemEncoded {
	var pems dependency.PemEncoded
	for _, field := range []string{"issuing_ca", "certificate", "private_key"} {
		text, _ := data[field].(string)
		for _, block := range pemBlocks(text) {
			switch {
			case strings.HasSuffix(block[0], "PRIVATE KEY"):
				pems.Key = block[1]
			case field == "certificate" && pems.Cert == "":
				pems.Cert = block[1]
			case !contains(pems.CAChain, block[1]):
				pems.CAChain = append(pems.CAChain, block[1])
			}
		}
	}
	if len(pems.CAChain) > 0 {
		pems.CA = pems.CAChain[0]
	}
	return pems
}

// pemBlocks returns each PEM block of text as its type and its text from BEGIN to END plus a newline.
func pemBlocks(text string) [][2]string {
	var blocks [][2]string
	for {
		start := strings.Index(text, "-----BEGIN ")
		if start < 0 {
			return blocks
		}
		text = text[start+11:]
		typeEnd := strings.Index(text, "-----")
		if typeEnd < 0 {
			return blocks
		}
		end := strings.Index(text[typeEnd+5:], "-----END ")
		if end < 0 {
			return blocks
		}
		end += typeEnd + 5
		closing := strings.Index(text[end+9:], "-----")
		if closing < 0 {
			return blocks
		}
		closing += end + 9
		blocks = append(blocks, [2]string{text[:typeEnd], "-----BEGIN " + text[:closing+5] + "\n"})
		text = text[closing+5:]
	}
}

func contains(list []string, item string) bool {
	for _, v := range list {
		if v == item {
			return true
		}
	}
	return false
}

// member reports whether v is in l, with consul-template's "in" rules.
func member(l, v interface{}) bool {
	lv := reflect.ValueOf(l)
	vv := reflect.ValueOf(v)
	switch lv.Kind() {
	case reflect.Array, reflect.Slice:
		for i := 0; i < lv.Len(); i++ {
			item := lv.Index(i)
			if item.Kind() == reflect.Interface {
				item = reflect.ValueOf(item.Interface())
			}
			switch item.Kind() {
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				switch vv.Kind() {
				case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
					if vv.Int() == item.Int() {
						return true
					}
				}
			case reflect.Float32, reflect.Float64:
				switch vv.Kind() {
				case reflect.Float32, reflect.Float64:
					if vv.Float() == item.Float() {
						return true
					}
				}
			case reflect.String:
				if vv.IsValid() && vv.Type() == item.Type() && vv.String() == item.String() {
					return true
				}
			}
		}
	case reflect.String:
		if vv.IsValid() && vv.Type() == lv.Type() && strings.Contains(lv.String(), vv.String()) {
			return true
		}
	}
	return false
}

func someOf(all, invert bool) func([]interface{}, interface{}) (bool, error) {
	return func(v []interface{}, l interface{}) (bool, error) {
		for _, item := range v {
			if member(l, item) != invert {
				return !all, nil
			}
		}
		return all, nil
	}
}

func unescapedJSON(v interface{}, indent bool) (string, error) {
	buf := &bytes.Buffer{}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimRight(buf.String(), "\r\n"), nil
}

func funcs(c *testCase) template.FuncMap {
	lookup := func(path string) (*dependency.Secret, error) {
		text, ok := c.Secrets[path]
		if !ok {
			return nil, nil
		}
		return dependency.FromVaultJSON(text)
	}
	env := func(name string) string { return c.Env[name] }
	lookupEnv := func(name string) (string, bool) { v, ok := c.Env[name]; return v, ok }
	return template.FuncMap{
		"secret": func(s ...string) (interface{}, error) {
			if len(s) == 0 {
				return nil, nil
			}
			if _, err := kvPairs(s[1:]); err != nil {
				return nil, err
			}
			secret, err := lookup(s[0])
			if secret == nil || err != nil {
				return nil, err
			}
			return secret, nil
		},
		"secrets": func(path string) ([]string, error) {
			var result []string
			if path == "" {
				return result, nil
			}
			return append([]string{}, c.Lists[path]...), nil
		},
		"pkiCert": func(s ...string) (interface{}, error) {
			if len(s) == 0 {
				return nil, nil
			}
			if _, err := kvPairs(s[1:]); err != nil {
				return nil, err
			}
			secret, err := lookup(s[0])
			if secret == nil || err != nil {
				return nil, err
			}
			return pemEncoded(secret.Data), nil
		},
		"env": func(s string) (string, error) { return env(s), nil },
		"envOrDefault": func(s, d string) (string, error) {
			if v, ok := lookupEnv(s); ok {
				return v, nil
			}
			return d, nil
		},
		"mustEnv": func(s string) (string, error) {
			if v := env(s); v != "" {
				return v, nil
			}
			return "", fmt.Errorf("required environment variable %s is empty", s)
		},
		"toJSON": func(v interface{}) (string, error) {
			out, err := json.Marshal(v)
			if err != nil {
				return "", fmt.Errorf("toJSON: %w", err)
			}
			return string(bytes.TrimSpace(out)), nil
		},
		"toJSONPretty": func(v interface{}) (string, error) {
			out, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				return "", fmt.Errorf("toJSONPretty: %w", err)
			}
			return string(bytes.TrimSpace(out)), nil
		},
		"toUnescapedJSON":       func(v interface{}) (string, error) { return unescapedJSON(v, false) },
		"toUnescapedJSONPretty": func(v interface{}) (string, error) { return unescapedJSON(v, true) },
		"parseJSON": func(s string) (interface{}, error) {
			if s == "" {
				return map[string]interface{}{}, nil
			}
			var data interface{}
			if err := json.Unmarshal([]byte(s), &data); err != nil {
				return nil, err
			}
			return data, nil
		},
		"base64Encode":    func(s string) (string, error) { return base64.StdEncoding.EncodeToString([]byte(s)), nil },
		"base64URLEncode": func(s string) (string, error) { return base64.URLEncoding.EncodeToString([]byte(s)), nil },
		"base64Decode": func(s string) (string, error) {
			v, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return "", fmt.Errorf("base64Decode: %w", err)
			}
			return string(v), nil
		},
		"base64URLDecode": func(s string) (string, error) {
			v, err := base64.URLEncoding.DecodeString(s)
			if err != nil {
				return "", fmt.Errorf("base64URLDecode: %w", err)
			}
			return string(v), nil
		},
		"split": func(sep, s string) ([]string, error) {
			s = strings.TrimSpace(s)
			if s == "" {
				return []string{}, nil
			}
			return strings.Split(s, sep), nil
		},
		"join":       func(sep string, a []string) (string, error) { return strings.Join(a, sep), nil },
		"trimSpace":  func(s string) (string, error) { return strings.TrimSpace(s), nil },
		"trim":       func(cut, s string) (string, error) { return strings.Trim(s, cut), nil },
		"trimPrefix": func(p, s string) (string, error) { return strings.TrimPrefix(s, p), nil },
		"trimSuffix": func(p, s string) (string, error) { return strings.TrimSuffix(s, p), nil },
		"replaceAll": func(f, t, s string) (string, error) { return strings.ReplaceAll(s, f, t), nil },
		"toLower":    func(s string) (string, error) { return strings.ToLower(s), nil },
		"toUpper":    func(s string) (string, error) { return strings.ToUpper(s), nil },
		"indent": func(n int, s string) (string, error) {
			if n < 0 {
				return "", errors.New("indent value must be a positive integer")
			}
			var out []byte
			start := true
			for _, b := range []byte(s) {
				if start && b != '\n' {
					out = append(out, strings.Repeat(" ", n)...)
				}
				out = append(out, b)
				start = b == '\n'
			}
			return string(out), nil
		},
		"contains":       func(v, l interface{}) (bool, error) { return member(l, v), nil },
		"in":             func(l, v interface{}) (bool, error) { return member(l, v), nil },
		"containsAll":    someOf(true, true),
		"containsAny":    someOf(false, false),
		"containsNone":   someOf(true, false),
		"containsNotAll": someOf(false, true),
		"sha256Hex": func(s string) (string, error) {
			sum := sha256.Sum256([]byte(s))
			return hex.EncodeToString(sum[:]), nil
		},
		"md5sum": func(s string) (string, error) { return fmt.Sprintf("%x", md5.Sum([]byte(s))), nil },
		"parseBool": func(s string) (bool, error) {
			if s == "" {
				return false, nil
			}
			v, err := strconv.ParseBool(s)
			if err != nil {
				return false, fmt.Errorf("parseBool: %w", err)
			}
			return v, nil
		},
		"parseInt": func(s string) (int64, error) {
			if s == "" {
				return 0, nil
			}
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parseInt: %w", err)
			}
			return v, nil
		},
		"parseFloat": func(s string) (float64, error) {
			if s == "" {
				return 0, nil
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return 0, fmt.Errorf("parseFloat: %w", err)
			}
			return v, nil
		},
	}
}

func render(c *testCase) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	var data interface{}
	if len(c.Data) > 0 {
		dec := json.NewDecoder(bytes.NewReader(c.Data))
		dec.UseNumber()
		var raw interface{}
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		if data, err = decodeTagged(raw); err != nil {
			return nil, err
		}
	}
	left, right := "", ""
	if len(c.Delims) == 2 {
		left, right = c.Delims[0], c.Delims[1]
	}
	tmpl := template.New("").Delims(left, right).Funcs(funcs(c))
	if c.MissingKey != "" {
		tmpl = tmpl.Option("missingkey=" + c.MissingKey)
	}
	tmpl, err = tmpl.Parse(c.Template)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = tmpl.Execute(&buf, data)
	return buf.Bytes(), err
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for in.Scan() {
		var c testCase
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			fmt.Fprintln(os.Stderr, "bad case:", err)
			os.Exit(2)
		}
		rendered, err := render(&c)
		res := result{ID: c.ID, OK: err == nil, Out: base64.StdEncoding.EncodeToString(rendered)}
		if err != nil {
			res.Err = err.Error()
		}
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			os.Exit(2)
		}
		out.Flush() // The test suite may wait for each answer.
	}
}
