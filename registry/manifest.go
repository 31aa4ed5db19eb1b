package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Manifest describes one plugin binary. The first five fields come from the
// plugin's own --yoloforge-manifest output; SHA256 and Binary are added when
// the manifest is written so it can be checked against the file beside it.
type Manifest struct {
	Name            string `json:"name"`
	Kind            string `json:"kind"`
	Version         string `json:"version"`
	ProtocolVersion int    `json:"protocol_version"`
	Description     string `json:"description,omitempty"`
	// SHA256 is the lower-case hex SHA-256 of the binary.
	SHA256 string `json:"sha256"`
	// Binary is the binary's file name (no directory), so a manifest copied
	// away from its binary still says what it belongs to.
	Binary string `json:"binary"`
}

// maxDescribeOutput bounds what is read from a plugin's stdout; a real
// description is a few hundred bytes, and a misbehaving binary must not
// exhaust memory.
const maxDescribeOutput = 1 << 20

// describeTimeout bounds Describe when the caller's context has no deadline:
// a binary that ignores the flag (say, one that starts serving) must not
// hang the host.
const describeTimeout = 30 * time.Second

// ParseDescription parses a plugin's --yoloforge-manifest output. The output
// must be exactly one JSON object (surrounding whitespace aside); unknown
// fields are ignored so newer plugins still register. SHA256 and Binary in
// the input, if any, are discarded: they are the registry's to fill in.
func ParseDescription(describeJSON []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(bytes.TrimSpace(describeJSON), &m); err != nil {
		return Manifest{}, fmt.Errorf("parse plugin description %s: %w", snippet(describeJSON), err)
	}
	m.SHA256, m.Binary = "", ""
	if err := m.checkDescribed(); err != nil {
		return Manifest{}, fmt.Errorf("plugin description: %w", err)
	}
	return m, nil
}

// checkDescribed validates the fields a plugin reports about itself.
func (m *Manifest) checkDescribed() error {
	if err := CheckName(m.Kind, m.Name); err != nil {
		return err
	}
	if m.ProtocolVersion < 1 {
		return fmt.Errorf("plugin %s/%s: protocol_version must be >= 1, got %d", m.Kind, m.Name, m.ProtocolVersion)
	}
	return nil
}

// check validates a complete (stored) manifest.
func (m *Manifest) check() error {
	if err := m.checkDescribed(); err != nil {
		return err
	}
	if !isSHA256Hex(m.SHA256) {
		return fmt.Errorf("sha256 %q is not 64 lower-case hex digits", m.SHA256)
	}
	if m.Binary == "" {
		return errors.New("binary is empty")
	}
	return nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// snippet quotes the start of untrusted output for an error message.
func snippet(b []byte) string {
	const max = 200
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// ReadManifest reads and validates the manifest beside binaryPath. A missing
// manifest yields an error that matches errors.Is(err, fs.ErrNotExist).
func ReadManifest(binaryPath string) (*Manifest, error) {
	path := ManifestPath(binaryPath)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", path, err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("parse manifest %s: %w", path, err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("invalid manifest %s: %w", path, err)
	}
	return &m, nil
}

// WriteManifest writes m beside binaryPath atomically: readers see either
// the old manifest or the complete new one, never a torn file, because the
// data goes to a temp file in the same directory that is then renamed over
// the target. m.Binary is set from binaryPath when empty.
func WriteManifest(binaryPath string, m Manifest) error {
	if m.Binary == "" {
		m.Binary = filepath.Base(binaryPath)
	}
	path := ManifestPath(binaryPath)
	if err := m.check(); err != nil {
		return fmt.Errorf("write manifest %s: %w", path, err)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("write manifest %s: %w", path, err)
	}
	data = append(data, '\n')
	if err := writeFileAtomic(path, data, 0o644); err != nil {
		return fmt.Errorf("write manifest %s: %w", path, err)
	}
	return nil
}

// writeFileAtomic writes data to path via a temp file and a rename. The temp
// name starts with '.' so discovery never mistakes it for a plugin.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	// Sync before rename so a crash cannot leave an empty file under the
	// final name.
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Chmod(tmp, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// SHA256File returns the lower-case hex SHA-256 of the file at path.
func SHA256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// NewManifest builds the manifest for the binary at binaryPath from its
// --yoloforge-manifest output: it parses the description, checks that the
// kind and name it reports match the file name, and records the binary's
// hash and file name. Nothing is written.
func NewManifest(binaryPath string, describeJSON []byte) (Manifest, error) {
	base := filepath.Base(binaryPath)
	fileKind, fileName, ok := ParseBinaryName(base)
	if !ok {
		return Manifest{}, fmt.Errorf("register %s: file name is not of the form %s", binaryPath, BinaryName("<kind>", "<name>"))
	}
	m, err := ParseDescription(describeJSON)
	if err != nil {
		return Manifest{}, fmt.Errorf("register %s: %w", binaryPath, err)
	}
	if m.Kind != fileKind || m.Name != fileName {
		return Manifest{}, fmt.Errorf("register %s: the binary describes itself as %s/%s but its file name says %s/%s; rename it to %s or fix the plugin's manifest",
			binaryPath, m.Kind, m.Name, fileKind, fileName, BinaryName(m.Kind, m.Name))
	}
	sum, err := SHA256File(binaryPath)
	if err != nil {
		return Manifest{}, fmt.Errorf("register %s: %w", binaryPath, err)
	}
	m.SHA256 = sum
	m.Binary = base
	return m, nil
}

// Register builds the manifest for the binary at binaryPath from its
// --yoloforge-manifest output (see NewManifest) and writes it beside the
// binary.
func Register(binaryPath string, describeJSON []byte) (Manifest, error) {
	m, err := NewManifest(binaryPath, describeJSON)
	if err != nil {
		return Manifest{}, err
	}
	if err := WriteManifest(binaryPath, m); err != nil {
		return Manifest{}, fmt.Errorf("register %s: %w", binaryPath, err)
	}
	return m, nil
}

// Describe runs the binary with ManifestFlag and returns its stdout. env is
// the child's environment (nil means the current process's). Without a
// deadline on ctx a default timeout applies. Errors carry the plugin's
// stderr.
func Describe(ctx context.Context, binaryPath string, env []string) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, describeTimeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, binaryPath, ManifestFlag)
	cmd.Env = env
	// A plugin that forks a child holding stdout open must not make Wait
	// hang after the context expires.
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = maxDescribeOutput, 64<<10
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.buf.String())
		if msg != "" {
			return nil, fmt.Errorf("run %s %s: %w\n%s", binaryPath, ManifestFlag, err, msg)
		}
		return nil, fmt.Errorf("run %s %s: %w", binaryPath, ManifestFlag, err)
	}
	if stdout.truncated {
		return nil, fmt.Errorf("run %s %s: output exceeds %d bytes", binaryPath, ManifestFlag, maxDescribeOutput)
	}
	return stdout.buf.Bytes(), nil
}

// limitedBuffer keeps at most max bytes and drops the rest, while still
// reporting full writes so the child is not killed by a broken pipe.
type limitedBuffer struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room < len(p) {
		b.truncated = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}
