package plugin

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Free-form values (argument defaults and build arguments) cross the wire
// as JSON. Plain encoding/json would write float64(1) as "1" and the far
// side would read it back as an integer, so marshalJSONValue writes every
// float with a decimal point or an exponent and unmarshalJSONValue turns
// numbers without one into int64 and the others into float64. Lists arrive
// as []any and objects as map[string]any, as BuildContext documents.

// marshalJSONValue encodes v, which may hold nil, bools, strings, Go
// integers and floats, slices, arrays and string-keyed maps of those.
func marshalJSONValue(v any) (string, error) {
	t, err := jsonTree(reflect.ValueOf(v), "")
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(t)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// jsonTree rewrites v into values encoding/json writes the way we want.
func jsonTree(v reflect.Value, path string) (any, error) {
	if !v.IsValid() {
		return nil, nil
	}
	where := func() string {
		if path == "" {
			return "value"
		}
		return path
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil, nil
		}
		return jsonTree(v.Elem(), path)
	case reflect.Bool:
		return v.Bool(), nil
	case reflect.String:
		return v.String(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return json.Number(strconv.FormatInt(v.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := v.Uint()
		if u > math.MaxInt64 {
			return nil, fmt.Errorf("%s: %d overflows int64", where(), u)
		}
		return json.Number(strconv.FormatUint(u, 10)), nil
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%s: %v cannot be sent as JSON", where(), f)
		}
		s := strconv.FormatFloat(f, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		return json.Number(s), nil
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil, nil
		}
		out := make([]any, v.Len())
		for i := range out {
			e, err := jsonTree(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%s: map keys must be strings, not %s", where(), v.Type().Key())
		}
		if v.IsNil() {
			return nil, nil
		}
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			k := it.Key().String()
			p := k
			if path != "" {
				p = path + "." + k
			}
			e, err := jsonTree(it.Value(), p)
			if err != nil {
				return nil, err
			}
			out[k] = e
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: unsupported type %s", where(), v.Type())
}

// unmarshalJSONValue decodes what marshalJSONValue wrote.
func unmarshalJSONValue(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return fromJSONTree(v), nil
}

func fromJSONTree(v any) any {
	switch x := v.(type) {
	case json.Number:
		s := x.String()
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i
			}
		}
		f, _ := strconv.ParseFloat(s, 64) // the decoder only accepts valid numbers
		return f
	case []any:
		for i := range x {
			x[i] = fromJSONTree(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = fromJSONTree(x[k])
		}
		return x
	}
	return v
}

// EncodeArgs encodes a free-form argument map as JSON the way Build
// arguments travel (floats always carry a decimal point or an exponent);
// other plugin kinds (sdk/deploy's backend options) use it too. nil
// encodes as "", so that it comes back nil rather than as an empty map.
func EncodeArgs(args map[string]any) (string, error) {
	if args == nil {
		return "", nil
	}
	return marshalJSONValue(args)
}

// DecodeArgs is EncodeArgs's inverse: integers come back as int64, other
// numbers as float64, lists as []any; "" gives nil.
func DecodeArgs(s string) (map[string]any, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	v, err := unmarshalJSONValue(s)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		if v == nil { // "null"
			return nil, nil
		}
		return nil, fmt.Errorf("arguments must be a JSON object, not %s", jsonKind(v))
	}
	return m, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, float64:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}
