package reserved

// The paths MatrixRTC is served under on the homeserver's hostname, as
// matrix-docker-ansible-deploy serves them, so that a host switching over
// keeps the URLs clients were given. Compile routes them; validate keeps
// other web apps off them.
const (
	LiveKitPath    = "/livekit-server"
	JWTServicePath = "/livekit-jwt-service"
)
