package compile

import (
	"testing"
)

// traefikStaticOf is the static config (traefik.yml) of a compiled config.
func traefikStaticOf(t *testing.T, src string) obj {
	t.Helper()
	f, ok := planFile(compileYAML(t, src), "/matrix/traefik/config/traefik.yml")
	if !ok {
		t.Fatal("no traefik.yml")
	}
	return f.Value.(obj)
}

func traefikEntrypoint(t *testing.T, static obj, name string) obj {
	t.Helper()
	ep, ok := static["entryPoints"].(obj)[name].(obj)
	if !ok {
		t.Fatalf("no entrypoint %s", name)
	}
	return ep
}

// The HTTP redirect names the published HTTPS port: with an entrypoint's
// name, Traefik would put that entrypoint's port inside the container
// (8443) into the URL.
func TestTraefikRedirectsToPublishedPort(t *testing.T) {
	web := traefikEntrypoint(t, traefikStaticOf(t, bridgesBase), "web")
	to := web["http"].(obj)["redirections"].(obj)["entryPoint"].(obj)["to"]
	if to != ":443" {
		t.Errorf("web redirects to %v, want :443", to)
	}
}

// Every entrypoint lets the largest upload arrive at 256 kbit/s, and a
// limit up to 1 GiB gives the same deadline, so that changing it does not
// restart Traefik.
func TestTraefikReadTimeoutFitsSlowUploads(t *testing.T) {
	for _, tc := range []struct {
		mb   int
		want string
	}{{1, "32768s"}, {50, "32768s"}, {1024, "32768s"}, {2048, "65536s"}} {
		static := traefikStaticOf(t, bridgesBase+"synapse: {max_upload_size_mb: "+itoa(tc.mb)+"}\n")
		for _, name := range []string{"web", "web-secure", "matrix-federation"} {
			ep := traefikEntrypoint(t, static, name)
			got := ep["transport"].(obj)["respondingTimeouts"].(obj)["readTimeout"]
			if got != tc.want {
				t.Errorf("max_upload_size_mb %d: %s readTimeout %v, want %s", tc.mb, name, got, tc.want)
			}
		}
	}
}

// journald keeps ANSI colour codes as escape sequences.
func TestTraefikLogsWithoutColour(t *testing.T) {
	if got := traefikStaticOf(t, bridgesBase)["log"].(obj)["noColor"]; got != true {
		t.Errorf("log.noColor %v, want true", got)
	}
}

// Bodies the upload limit makes Traefik buffer go to a host directory,
// not to the container's small /tmp tmpfs, which is memory.
func TestTraefikBuffersOnDisk(t *testing.T) {
	s, _ := planService(compileYAML(t, bridgesBase), traefikUnit)
	tmpdir := ""
	for _, e := range s.Env {
		if e.Name == "TMPDIR" {
			tmpdir = e.Value
		}
	}
	mounted := false
	for _, m := range s.Mounts {
		mounted = mounted || (m.Target == tmpdir && !m.ReadOnly && m.Source == "/matrix/traefik/buffer")
	}
	if tmpdir == "" || !mounted {
		t.Errorf("TMPDIR %q, mounts %+v; want TMPDIR on a writable host directory", tmpdir, s.Mounts)
	}
}
