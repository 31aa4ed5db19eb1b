package cli

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/yoloforge/yoloforge/host/builtin"
	"github.com/yoloforge/yoloforge/registry"
)

// scaffoldTemplates are the files `yoloforge plugin new` writes, one
// directory per kind; "<file>.tmpl" becomes "<file>" ("gitignore.tmpl"
// becomes ".gitignore", which embed would otherwise skip).
//
//go:embed scaffold_templates
var scaffoldTemplates embed.FS

// scaffoldKinds are the kinds `plugin new` can scaffold.
var scaffoldKinds = []string{"backbone"}

// scaffoldOptions say what to scaffold where.
type scaffoldOptions struct {
	Kind, Name string
	Dir        string // target directory, absolute
	Module     string // module path of the new module
	SDK        string // YOLOForge checkout for the replace directive, absolute
}

// scaffoldData is what the templates see.
type scaffoldData struct {
	Name, Module, SDK, Dir string
	GoVersion              string
	Requires               []string // "path version" of the SDK's requirements
}

var scaffoldNameRE = regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)

// checkScaffoldName refuses names that would make an awkward file or module
// name: only lower-case letters, digits and inner dashes.
func checkScaffoldName(name string) error {
	if !scaffoldNameRE.MatchString(name) || strings.Contains(name, "--") {
		return fmt.Errorf("plugin name %q: use lower-case letters, digits and single dashes, starting with a letter and not ending with a dash (e.g. mynet, csp-tiny2)", name)
	}
	return nil
}

var modulePathRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~-]*(/[A-Za-z0-9._~-]+)*$`)

func (a *App) pluginNew() *cobra.Command {
	var dir, module, sdk string
	cmd := &cobra.Command{
		Use:   "new KIND NAME",
		Short: "Scaffold an out-of-tree Go module with a working plugin, its test and a model config",
		Long: "Writes a Go module (go.mod, main.go, main_test.go, model.yaml, README.md) with a working plugin of\n" +
			"the given kind (today: backbone) into --dir (default ./yoloforge-plugin-KIND-NAME). go.mod replaces the\n" +
			"SDK with a local YOLOForge checkout: --sdk, else the one the working directory or this binary is in.\n" +
			"docs/adding-a-backbone.md walks from here to a trained model.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := scaffoldOptions{Kind: args[0], Name: args[1], Module: module}
			if !contains(scaffoldKinds, o.Kind) {
				return fmt.Errorf("plugin new: cannot scaffold kind %q (supported: %s)", o.Kind, strings.Join(scaffoldKinds, ", "))
			}
			if err := checkScaffoldName(o.Name); err != nil {
				return err
			}
			if err := registry.CheckName(o.Kind, o.Name); err != nil {
				return err
			}
			if o.Module == "" {
				o.Module = "example.com/yoloforge-plugin-" + o.Kind + "-" + o.Name
			}
			if !modulePathRE.MatchString(o.Module) {
				return fmt.Errorf("--module %q is not a Go module path (e.g. github.com/you/%s)", o.Module, o.Name)
			}
			if dir == "" {
				dir = registry.BinaryName(o.Kind, o.Name)
			}
			var err error
			if o.Dir, err = a.absPath(dir); err != nil {
				return err
			}
			if o.SDK, err = a.findSDK(sdk); err != nil {
				return err
			}
			files, err := writeScaffold(o)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "wrote %s/%s in %s:\n", o.Kind, o.Name, o.Dir)
			for _, f := range files {
				fmt.Fprintf(a.Stdout, "  %s\n", f)
			}
			fmt.Fprintf(a.Stdout, "module %s, SDK from %s\n\nnext:\n  cd %s\n  go test ./...\n  go build -o bin/%s .\n"+
				"then follow README.md there (register, plugins list, model info) or docs/adding-a-backbone.md\n",
				o.Module, o.SDK, o.Dir, registry.BinaryName(o.Kind, o.Name))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory to create (must not exist or be empty; default ./yoloforge-plugin-KIND-NAME)")
	cmd.Flags().StringVar(&module, "module", "", "module path of the new module (default example.com/yoloforge-plugin-KIND-NAME)")
	cmd.Flags().StringVar(&sdk, "sdk", "", "YOLOForge checkout for go.mod's replace directive (default: the one the working directory or this binary is in)")
	return cmd
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// absPath resolves p against the App's working directory.
func (a *App) absPath(p string) (string, error) { return filepath.Abs(a.resolve(p)) }

// findSDK picks the YOLOForge checkout the new module builds against: the
// flag, else the tree holding the working directory, else the tree holding
// this executable (a yoloforge built into the checkout's bin/).
func (a *App) findSDK(flag string) (string, error) {
	if flag != "" {
		p, err := a.absPath(flag)
		if err != nil {
			return "", err
		}
		root, ok := builtin.FindRoot(p)
		if !ok || root != p {
			return "", fmt.Errorf("--sdk %s: no go.mod of module %s there; name the root of a YOLOForge checkout", p, builtin.ModulePath)
		}
		return root, nil
	}
	if root, ok := builtin.FindRoot(a.WorkDir); ok {
		return root, nil
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			if root, ok := builtin.FindRoot(filepath.Dir(exe)); ok {
				return root, nil
			}
		}
	}
	return "", fmt.Errorf("no YOLOForge checkout found for go.mod's replace directive (the SDK is not published on a module proxy): "+
		"run this inside a checkout of %s or pass --sdk PATH", builtin.ModulePath)
}

// sdkModule reads what the new go.mod copies from the checkout's: the go
// version and every requirement, so the new module resolves the same
// versions from the module cache without asking a proxy.
func sdkModule(root string) (goVersion string, requires []string, err error) {
	path := filepath.Join(root, "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("read the SDK's go.mod: %w", err)
	}
	inBlock := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case inBlock && f[0] == ")":
			inBlock = false
		case inBlock && len(f) == 2:
			requires = append(requires, f[0]+" "+f[1])
		case f[0] == "go" && len(f) == 2:
			goVersion = f[1]
		case f[0] == "require" && len(f) == 2 && f[1] == "(":
			inBlock = true
		case f[0] == "require" && len(f) == 3:
			requires = append(requires, f[1]+" "+f[2])
		}
	}
	if goVersion == "" {
		return "", nil, fmt.Errorf("%s: no go directive", path)
	}
	return goVersion, requires, nil
}

// writeScaffold renders the kind's templates into a temporary directory
// beside o.Dir and renames it into place, so a failure leaves nothing
// half-written. It refuses a target that exists and is not empty.
func writeScaffold(o scaffoldOptions) (files []string, err error) {
	if des, err := os.ReadDir(o.Dir); err == nil && len(des) > 0 {
		return nil, fmt.Errorf("plugin new: %s exists and is not empty; choose another --dir", o.Dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("plugin new: %w", err)
	}
	goVersion, requires, err := sdkModule(o.SDK)
	if err != nil {
		return nil, err
	}
	sum, err := os.ReadFile(filepath.Join(o.SDK, "go.sum"))
	if err != nil {
		return nil, fmt.Errorf("read the SDK's go.sum: %w", err)
	}
	data := scaffoldData{Name: o.Name, Module: o.Module, SDK: goModPath(o.SDK), Dir: o.Dir, GoVersion: goVersion, Requires: requires}

	parent := filepath.Dir(o.Dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("plugin new: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(o.Dir)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("plugin new: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()

	root := "scaffold_templates/" + o.Kind
	entries, err := fs.ReadDir(scaffoldTemplates, root)
	if err != nil {
		return nil, fmt.Errorf("plugin new: templates for %s: %w", o.Kind, err)
	}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".tmpl")
		if name == "gitignore" {
			name = ".gitignore"
		}
		src, err := scaffoldTemplates.ReadFile(root + "/" + e.Name())
		if err != nil {
			return nil, err
		}
		t, err := template.New(e.Name()).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return nil, fmt.Errorf("plugin new: template %s: %w", e.Name(), err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return nil, fmt.Errorf("plugin new: template %s: %w", e.Name(), err)
		}
		if err := os.WriteFile(filepath.Join(tmp, name), buf.Bytes(), 0o644); err != nil {
			return nil, fmt.Errorf("plugin new: %w", err)
		}
		files = append(files, name)
	}
	// go.sum of the checkout: the new module's requirements are a subset,
	// so every checksum it needs is there and none is fetched.
	if err := os.WriteFile(filepath.Join(tmp, "go.sum"), sum, 0o644); err != nil {
		return nil, fmt.Errorf("plugin new: %w", err)
	}
	files = append(files, "go.sum")
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("plugin new: %w", err)
	}
	// An empty target is replaced; Remove fails (and so do we) if something
	// appeared in it meanwhile.
	if err := os.Remove(o.Dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("plugin new: %w", err)
	}
	if err := os.Rename(tmp, o.Dir); err != nil {
		return nil, fmt.Errorf("plugin new: %w", err)
	}
	return files, nil
}

// goModPath writes a path for a go.mod directive, quoted when it holds
// characters the go.mod syntax would split on.
func goModPath(p string) string {
	if strings.ContainsAny(p, " \t\"'`\\()") {
		return strconv.Quote(p)
	}
	return p
}
