package registry

import "fmt"

// VerifyStatus is the outcome of Verify.
type VerifyStatus int

const (
	// VerifyOK: the binary's hash matches its manifest.
	VerifyOK VerifyStatus = iota
	// VerifyNoManifest: there is no manifest to check against.
	VerifyNoManifest
	// VerifyBadManifest: a manifest exists but is unusable (see
	// Entry.ManifestErr).
	VerifyBadManifest
	// VerifyMismatch: the binary changed since its manifest was written.
	VerifyMismatch
	// VerifyUnreadable: the binary could not be read.
	VerifyUnreadable
)

func (s VerifyStatus) String() string {
	switch s {
	case VerifyOK:
		return "ok"
	case VerifyNoManifest:
		return "no manifest"
	case VerifyBadManifest:
		return "bad manifest"
	case VerifyMismatch:
		return "checksum mismatch"
	case VerifyUnreadable:
		return "unreadable"
	}
	return fmt.Sprintf("VerifyStatus(%d)", int(s))
}

// Verification is the result of Verify.
type Verification struct {
	Status VerifyStatus
	// Want is the manifest's SHA-256, Got the binary's; each is set when
	// known.
	Want, Got string
	// Err explains VerifyBadManifest and VerifyUnreadable.
	Err error
}

// OK reports whether the binary matches its manifest.
func (v Verification) OK() bool { return v.Status == VerifyOK }

func (v Verification) String() string {
	switch v.Status {
	case VerifyMismatch:
		return fmt.Sprintf("checksum mismatch: manifest has %s, binary has %s", v.Want, v.Got)
	case VerifyBadManifest, VerifyUnreadable:
		if v.Err != nil {
			return fmt.Sprintf("%s: %v", v.Status, v.Err)
		}
	}
	return v.Status.String()
}

// Verify hashes e's binary and compares it with the manifest Discover (or
// Inspect) loaded. The binary is hashed even without a usable manifest, so
// that Got is always reported when the file is readable.
func Verify(e Entry) Verification {
	got, err := SHA256File(e.Path)
	if err != nil {
		return Verification{Status: VerifyUnreadable, Err: err}
	}
	switch {
	case e.ManifestErr != nil:
		return Verification{Status: VerifyBadManifest, Got: got, Err: e.ManifestErr}
	case e.Manifest == nil:
		return Verification{Status: VerifyNoManifest, Got: got}
	case e.Manifest.SHA256 != got:
		return Verification{Status: VerifyMismatch, Want: e.Manifest.SHA256, Got: got}
	}
	return Verification{Status: VerifyOK, Want: got, Got: got}
}
