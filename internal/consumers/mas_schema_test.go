package consumers

import (
	"path/filepath"
	"strings"
	"testing"
)

const masConfig = `http:
  public_base: "https://matrix.example.org/auth/"
  listeners:
    - name: web
      prefix: "/auth"
      resources:
        - name: discovery
        - name: compat
      binds:
        - address: "[::]:8080"
database:
  host: matrix-postgres
  port: 5432
  password_file: /run/secrets/db
secrets:
  encryption_file: /run/secrets/enc
  keys:
    - kid: default-rsa
      key_file: /run/secrets/rsa
matrix:
  kind: synapse
  homeserver: example.org
  endpoint: "http://matrix-synapse:8008/"
  secret_file: /run/secrets/shared
passwords:
  enabled: true
  schemes:
    - version: 1
      algorithm: bcrypt
      unicode_normalization: true
upstream_oauth2:
  providers:
    - id: 01JSHPZHAXC50QBKH67MH33TNF
      client_id: matrix
      token_endpoint_auth_method: client_secret_basic
      claims_imports:
        localpart:
          action: require
`

func masSchemaForTest(t *testing.T) *schema {
	dir, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return loadSchemaFrom(t, filepath.Join(dir, "internal", "consumers", "testdata"), masSchemaFile)
}

func TestMASSchemaGood(t *testing.T) {
	MASSchema(t, []byte(masConfig))
}

// Each mistake the schema or the key walk must catch, with where it is.
func TestMASSchemaBad(t *testing.T) {
	sch := masSchemaForTest(t)
	for _, tc := range []struct {
		name, from, to string
		want           []string
	}{
		{"required section", "matrix:\n", "matrx:\n", []string{"/: missing property 'matrix'", `matrx: not an option in MAS's config schema (did you mean "matrix"?)`}},
		{"port as string", "port: 5432", `port: "5432"`, []string{"/database/port"}},
		{"enum", "kind: synapse", "kind: dendrite", []string{"/matrix/kind"}},
		{"resource name", "name: compat", "name: compatibility", []string{"/http/listeners/0/resources/1"}},
		{"key under a reference", "encryption_file:", "encryption_path:", []string{`/secrets/encryption_path: not an option`}},
		{"key in a list item", "kid: default-rsa", "key_id: default-rsa", []string{"/secrets/keys/0/key_id: not an option"}},
		{"provider key", "client_id: matrix", "client_id: matrix\n      client_secret_path: x", []string{"/upstream_oauth2/providers/0/client_secret_path: not an option"}},
		{"ULID", "01JSHPZHAXC50QBKH67MH33TNF", "keycloak", []string{"/upstream_oauth2/providers/0/id"}},
		{"claim action", "action: require", "action: demand", []string{"/upstream_oauth2/providers/0/claims_imports/localpart/action"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(masConfig, tc.from, tc.to, 1)
			if doc == masConfig {
				t.Fatalf("%q is not in the config", tc.from)
			}
			all := strings.Join(masProblems(sch, []byte(doc)), "\n")
			for _, want := range tc.want {
				if !strings.Contains(all, want) {
					t.Errorf("problems do not mention %q:\n%s", want, all)
				}
			}
		})
	}
}
