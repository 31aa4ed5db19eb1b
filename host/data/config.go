package data

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	yaml "go.yaml.in/yaml/v3"
)

// Config is a parsed data yaml (the reference's data/*.yaml).
type Config struct {
	File  string   // the yaml file
	Root  string   // the resolved `path`: the dataset root
	Train []string // image dirs or .txt lists, resolved against Root
	Val   []string
	Test  []string
	NC    int
	Names []string
}

// knownDataKeys are the keys of the reference's data yamls; `download` (a
// URL or a script) is accepted and ignored.
const knownDataKeys = "path, train, val, test, nc, names, download"

// LoadConfig reads and checks a data yaml.
func LoadConfig(file string) (*Config, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read data config: %w", err)
	}
	return ParseConfig(b, file)
}

// ParseConfig checks the data yaml b, read from file (which names it in
// errors and anchors relative paths).
func ParseConfig(b []byte, file string) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty data config (want keys %s)", file, knownDataKeys)
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: line %d: a data config is a mapping of keys (%s)", file, m.Line, knownDataKeys)
	}
	c := &Config{File: file, NC: -1}
	var root string
	var namesNode *yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		key := k.Value
		where := func(format string, args ...any) error {
			return fmt.Errorf("%s: line %d: key %q: %s", file, v.Line, key, fmt.Sprintf(format, args...))
		}
		if seen[key] {
			return nil, fmt.Errorf("%s: line %d: key %q given twice", file, k.Line, key)
		}
		seen[key] = true
		if isNull(v) {
			continue // e.g. `test:` with nothing after it
		}
		var err error
		switch key {
		case "path":
			if v.Kind != yaml.ScalarNode {
				return nil, where("want a directory, got a %s", kindName(v))
			}
			root = v.Value
		case "train", "val", "test":
			var list []string
			if list, err = stringList(v); err != nil {
				return nil, where("%v", err)
			}
			switch key {
			case "train":
				c.Train = list
			case "val":
				c.Val = list
			default:
				c.Test = list
			}
		case "nc":
			if v.Kind != yaml.ScalarNode {
				return nil, where("want an integer, got a %s", kindName(v))
			}
			n, err := strconv.Atoi(v.Value)
			if err != nil || n < 1 {
				return nil, where("want a positive integer, got %q", v.Value)
			}
			c.NC = n
		case "names":
			namesNode = v
		case "download":
		default:
			return nil, fmt.Errorf("%s: line %d: unknown key %q (known: %s)", file, k.Line, key, knownDataKeys)
		}
	}
	if c.NC < 0 {
		return nil, fmt.Errorf("%s: missing key \"nc\" (the number of classes)", file)
	}
	if namesNode == nil {
		for i := range c.NC { // as the reference: class0, class1, ...
			c.Names = append(c.Names, "class"+strconv.Itoa(i))
		}
	} else {
		names, err := parseNames(namesNode, c.NC)
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: key \"names\": %w", file, namesNode.Line, err)
		}
		c.Names = names
	}
	if len(c.Train) == 0 {
		return nil, fmt.Errorf("%s: missing key \"train\" (image directories or .txt lists)", file)
	}
	if len(c.Val) == 0 {
		return nil, fmt.Errorf("%s: missing key \"val\" (image directories or .txt lists)", file)
	}
	base := filepath.Dir(file)
	switch {
	case root == "":
		root = base
	case !filepath.IsAbs(root):
		root = filepath.Join(base, root)
	}
	c.Root = filepath.Clean(root)
	for _, l := range []*[]string{&c.Train, &c.Val, &c.Test} {
		for i, p := range *l {
			if !filepath.IsAbs(p) {
				(*l)[i] = filepath.Join(c.Root, p)
			}
		}
	}
	return c, nil
}

func isNull(v *yaml.Node) bool {
	return v.Kind == yaml.ScalarNode && v.Tag == "!!null"
}

func kindName(v *yaml.Node) string {
	switch v.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "scalar"
}

// stringList accepts one path or a list of paths.
func stringList(v *yaml.Node) ([]string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Value == "" {
			return nil, nil
		}
		return []string{v.Value}, nil
	case yaml.SequenceNode:
		var out []string
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode || e.Value == "" {
				return nil, fmt.Errorf("line %d: list entries must be paths", e.Line)
			}
			out = append(out, e.Value)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a path or a list of paths, got a %s", kindName(v))
}

// parseNames accepts a list of names or a {id: name} map with ids 0..nc-1.
func parseNames(v *yaml.Node, nc int) ([]string, error) {
	var names []string
	switch v.Kind {
	case yaml.SequenceNode:
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a class name must be a scalar, got a %s", e.Line, kindName(e))
			}
			names = append(names, e.Value)
		}
	case yaml.MappingNode:
		byID := map[int]string{}
		for i := 0; i+1 < len(v.Content); i += 2 {
			k, e := v.Content[i], v.Content[i+1]
			id, err := strconv.Atoi(k.Value)
			if err != nil || id < 0 {
				return nil, fmt.Errorf("line %d: class id %q is not a non-negative integer", k.Line, k.Value)
			}
			if _, dup := byID[id]; dup {
				return nil, fmt.Errorf("line %d: class id %d given twice", k.Line, id)
			}
			if e.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a class name must be a scalar, got a %s", e.Line, kindName(e))
			}
			byID[id] = e.Value
		}
		ids := make([]int, 0, len(byID))
		for id := range byID {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		for i, id := range ids {
			if id != i {
				return nil, fmt.Errorf("class ids must be 0..%d without gaps; %d is missing", len(ids)-1, i)
			}
			names = append(names, byID[id])
		}
	default:
		return nil, fmt.Errorf("want a list of names or a {id: name} map, got a %s", kindName(v))
	}
	if len(names) != nc {
		return nil, fmt.Errorf("nc is %d but %d names are given", nc, len(names))
	}
	return names, nil
}

// Sources returns the resolved image sources of split "train", "val" or
// "test".
func (c *Config) Sources(split string) ([]string, error) {
	switch split {
	case "train":
		return c.Train, nil
	case "val":
		return c.Val, nil
	case "test":
		return c.Test, nil
	}
	return nil, fmt.Errorf("%s: unknown split %q (train, val or test)", c.File, split)
}

// Open scans a split, checking class ids against nc.
func (c *Config) Open(split string, o ScanOptions) (*Dataset, error) {
	src, err := c.Sources(split)
	if err != nil {
		return nil, err
	}
	if len(src) == 0 {
		return nil, fmt.Errorf("%s: key %q: not set", c.File, split)
	}
	o.NC = c.NC
	ds, err := Scan(src, o)
	if err != nil {
		return nil, fmt.Errorf("%s: key %q: %w", c.File, split, err)
	}
	ds.Names = c.Names
	return ds, nil
}
