package mdad

import (
	"crypto/sha1"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// playbookNamespace is the UUID namespace of Ansible's to_uuid filter, which
// the playbook applies to the hashes it derives secrets from.
var playbookNamespace = [16]byte{
	0x36, 0x1e, 0x6d, 0x51, 0xfa, 0xec, 0x44, 0x4a,
	0x90, 0x79, 0x34, 0x13, 0x86, 0xda, 0x8e, 0x2e,
}

// DeriveSecret computes the secret the playbook derives from
// matrix_homeserver_generic_secret_key with a salt, so that an imported
// server keeps the credentials its data was created with.
func DeriveSecret(key, salt string) string {
	sum := sha512.Sum512([]byte(key + ":" + salt))
	return uuidV5(playbookNamespace, hex.EncodeToString(sum[:]))
}

// uuidV5 is RFC 9562's name-based UUID with SHA-1.
func uuidV5(namespace [16]byte, name string) string {
	h := sha1.New()
	h.Write(namespace[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	s := hex.EncodeToString(u[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// Secret is one secret the bundle reads, with the value the MDAD host uses.
type Secret struct {
	Name   string // file name under the secrets directory
	Value  string
	Source string // where the value came from, for the report
}

// MissingSecret is a secret the bundle reads that vars.yml does not give.
type MissingSecret struct {
	Name, Reason string
	// Provided: install.sh cannot make it, and stops until it is there.
	Provided bool
}

// installable is the character set install.sh accepts in a secret file: the
// values end up inside quoted YAML and JSON strings and env files.
var installable = regexp.MustCompile(`^[A-Za-z0-9._~+/=:@%!#*,?^&-]+$`)

const installableChars = "letters, digits and ._~+/=:@%!#*,?^&-"

// CheckSecrets reports every reason WriteSecrets would refuse, without
// touching the disk, so that a caller can refuse before writing anything.
func CheckSecrets(dir string, secrets []Secret) error {
	var problems []string
	if info, err := os.Stat(dir); err == nil {
		switch {
		case !info.IsDir():
			problems = append(problems, dir+" is not a directory")
		case info.Mode().Perm()&0o077 != 0:
			problems = append(problems, fmt.Sprintf("%s is open to other users (mode %04o); use a new directory, or chmod 700 it first", dir, info.Mode().Perm()))
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		problems = append(problems, err.Error())
	}
	for _, s := range secrets {
		if !installable.MatchString(s.Value) {
			problems = append(problems, fmt.Sprintf("%s (%s) holds characters install.sh refuses: only %s are allowed; change it at its source first", s.Name, s.Source, installableChars))
		}
		p := filepath.Join(dir, s.Name)
		if _, err := os.Lstat(p); err == nil {
			problems = append(problems, p+" exists; matrixgen never overwrites a secret")
		} else if !errors.Is(err, fs.ErrNotExist) {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// WriteSecrets writes one file per secret into dir, in the layout install.sh
// reads: mode 0600 in a directory of mode 0700, the value without a trailing
// newline (install.sh counts a newline as a forbidden character). It writes
// nothing when CheckSecrets finds a problem, and never replaces a file.
func WriteSecrets(dir string, secrets []Secret) error {
	if err := CheckSecrets(dir, secrets); err != nil {
		return err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		// MkdirAll is subject to the umask, which may be wider than ours.
		if err := os.Chmod(dir, 0o700); err != nil {
			return err
		}
	}
	for _, s := range secrets {
		if err := writeExclusive(filepath.Join(dir, s.Name), s.Value); err != nil {
			return err
		}
	}
	return nil
}

func writeExclusive(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(value); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
