package config

// Kubernetes is what the cluster target reads (schema/kubernetes.cue).
type Kubernetes struct {
	Namespace    string              `json:"namespace"`
	StorageClass string              `json:"storage_class"`
	MediaSize    string              `json:"media_size"`
	DataSize     string              `json:"data_size"`
	Routes       string              `json:"routes"`
	GatewayClass string              `json:"gateway_class"`
	TLSSecret    string              `json:"tls_secret"`
	IngressClass string              `json:"ingress_class"`
	Requests     Requests            `json:"requests"`
	Services     map[string]Requests `json:"services"`
}

type Requests struct {
	CPU    string `json:"cpu"`
	Memory string `json:"memory"`
}
