package pluginhost_test

import (
	"crypto/sha256"
	"io"
	"os"

	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
)

func sha256File(path string) []byte {
	f, err := os.Open(path)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	Expect(err).NotTo(HaveOccurred())
	return h.Sum(nil)
}

func copyExecutable(from, to string) {
	b, err := os.ReadFile(from)
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(to, b, 0o755)).To(Succeed())
}

func protoSize(m proto.Message) int { return proto.Size(m) }
