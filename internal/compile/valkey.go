package compile

import "github.com/matrixgen/matrixgen/internal/plan"

const (
	valkeyUnit = "matrix-valkey"
	valkeyPort = 6379
)

// addValkey runs the Redis-compatible server Synapse's processes exchange
// replication traffic through. It only relays messages: without
// persistence (--save "" and no append-only file) it writes nothing, so it
// runs on a read-only root with no data directory. It is reachable on the
// homeserver network only, which is why it needs no password, and protected
// mode (which refuses every non-loopback client without one) is off.
func addValkey(b *builder) {
	b.service(plan.Service{
		Unit:        valkeyUnit,
		Description: "Valkey (Redis) for Synapse's workers",
		Image:       b.cfg.Valkey.Image,
		Command: []string{"valkey-server", "--port", itoa(valkeyPort), "--save", "", "--appendonly", "no",
			"--protected-mode", "no"},
		Tmpfs:    []string{"/tmp"},
		Networks: []string{b.cfg.Host.Networks.Homeserver},
		Listens:  []plan.Listen{{Name: "redis", Port: valkeyPort}},
	})
	b.health(valkeyUnit, 60, "docker", "exec", valkeyUnit, "valkey-cli", "ping")
}
