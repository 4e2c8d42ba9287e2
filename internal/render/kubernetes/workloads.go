package kubernetes

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/render"
)

// defaultID runs the containers when the config fixes no host.uid and
// host.gid: on a host install.sh looks the matrix user up, in a cluster
// there is no such user. 991 is the Synapse image's own user.
const defaultID = 991

// fillImage runs the init container that puts secrets into configs, as
// install.sh does on a host: a shell and awk are all it needs.
const fillImage = "docker.io/library/busybox:1.37.0"

// Where the init container sees the templates, the filled copies and the
// secrets.
const (
	templateRoot = "/run/matrixgen/template"
	filledRoot   = "/run/matrixgen/filled"
	secretRoot   = "/run/matrixgen/secrets"
)

// configHashAnnotation changes when a file a pod reads changes, so that
// applying a new config restarts the pods that read it, as install.sh
// restarts the units of a changed file.
const configHashAnnotation = "matrixgen.org/config-sha256"

func addNamespace(o *output) error {
	ns := corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: o.meta(o.p.Cluster.Namespace, nil)}
	ns.Namespace = ""
	return o.add("Namespace", ns.Name, "namespace", ns)
}

// workloads holds what the services share: the ConfigMaps and claims
// several of them mount are made once.
type workloads struct {
	*output
	configMaps map[string]*corev1.ConfigMap // by host directory
	claims     map[string]*corev1.PersistentVolumeClaim
	claimUsers map[string]map[string]bool // claim -> services mounting it
}

func addWorkloads(o *output) error {
	w := &workloads{output: o, configMaps: map[string]*corev1.ConfigMap{}, claims: map[string]*corev1.PersistentVolumeClaim{}, claimUsers: map[string]map[string]bool{}}
	type pending struct {
		s   plan.Service
		pod corev1.PodSpec
		sum string
	}
	var pods []pending
	for _, s := range o.p.Services {
		if s.Unit == o.p.Proxy.Unit {
			continue // the cluster's gateway or ingress takes the proxy's place
		}
		pod, sum, err := w.podSpec(s)
		if err != nil {
			return fmt.Errorf("service %s: %w", s.Unit, err)
		}
		pods = append(pods, pending{s, pod, sum})
	}
	// Claims are complete only now: their access mode depends on how many
	// services mount them.
	for _, name := range sortedKeys(w.claims) {
		c := w.claims[name]
		if len(w.claimUsers[name]) > 1 {
			c.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
		}
		if err := o.add("PersistentVolumeClaim", name, "persistentvolumeclaims", *c); err != nil {
			return err
		}
	}
	for _, dir := range sortedKeys(w.configMaps) {
		cm := w.configMaps[dir]
		if err := o.add("ConfigMap", cm.Name, "configmaps", *cm); err != nil {
			return err
		}
	}
	for _, pp := range pods {
		if err := w.addWorkload(pp.s, pp.pod, pp.sum); err != nil {
			return err
		}
		if err := w.addService(pp.s); err != nil {
			return err
		}
	}
	return w.addJobs()
}

// addWorkload wraps the pod: a StatefulSet for the bundled database, whose
// data must never have two writers, a Deployment for everything else.
func (w *workloads) addWorkload(s plan.Service, pod corev1.PodSpec, sum string) error {
	name := serviceName(s)
	meta := w.meta(name, map[string]string{unitLabel: objectName(s.Unit)})
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: meta.Labels, Annotations: map[string]string{configHashAnnotation: sum}},
		Spec:       pod,
	}
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{nameLabel: name}}
	one := int32(1)
	if w.p.Postgres != nil && s.Unit == w.p.Postgres.Unit {
		set := appsv1.StatefulSet{
			TypeMeta: typeMeta("apps/v1", "StatefulSet"), ObjectMeta: meta,
			Spec: appsv1.StatefulSetSpec{Replicas: &one, ServiceName: name, Selector: selector, Template: template},
		}
		return w.add("StatefulSet", name, "statefulsets", set)
	}
	d := appsv1.Deployment{
		TypeMeta: typeMeta("apps/v1", "Deployment"), ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: selector, Template: template},
	}
	// A pod holding a ReadWriteOnce claim cannot overlap with its
	// successor, which would wait for the volume forever on another node.
	if w.holdsExclusiveClaim(pod) {
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	} else {
		d.Spec.Strategy = rollOneAtATime()
	}
	return w.add("Deployment", name, "deployments", d)
}

// rollOneAtATime starts the new pod first and stops the old one only once
// the new one is ready, so that an update never leaves the Service
// without a ready pod, nor sends it requests before the new pod's
// readiness probe passes.
func rollOneAtATime() appsv1.DeploymentStrategy {
	none, one := intstr.FromInt32(0), intstr.FromInt32(1)
	return appsv1.DeploymentStrategy{
		Type:          appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &none, MaxSurge: &one},
	}
}

func (w *workloads) holdsExclusiveClaim(pod corev1.PodSpec) bool {
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim != nil && len(w.claimUsers[v.PersistentVolumeClaim.ClaimName]) == 1 {
			return true
		}
	}
	return false
}

// addService makes the service reachable under its address, with the
// ports it listens on. A service that listens on nothing gets none.
func (w *workloads) addService(s plan.Service) error {
	if len(s.Listens) == 0 || s.HostNetwork {
		return nil
	}
	name := serviceName(s)
	svc := corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: w.meta(name, map[string]string{unitLabel: objectName(s.Unit)}),
		Spec:       corev1.ServiceSpec{Selector: map[string]string{nameLabel: name}},
	}
	for _, l := range s.Listens {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
			Name: portName(l), Port: int32(l.Port), TargetPort: intstr.FromString(portName(l)), Protocol: corev1.ProtocolTCP,
		})
	}
	return w.add("Service", name, "services", svc)
}

// portName is the listen's name as Kubernetes takes a port name: at most
// 15 characters of lower-case letters, digits and "-".
func portName(l plan.Listen) string {
	n := objectName(l.Name)
	if len(n) > 15 {
		n = strings.TrimRight(n[:15], "-")
	}
	return n
}

func (w *workloads) podSpec(s plan.Service) (corev1.PodSpec, string, error) {
	v := &podVolumes{w: w, service: s}
	for _, m := range s.Mounts {
		if err := v.mount(m); err != nil {
			return corev1.PodSpec{}, "", err
		}
	}
	for _, t := range s.Tmpfs {
		name := "tmp-" + objectName(t)
		v.volumes = append(v.volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}})
		v.mounts = append(v.mounts, corev1.VolumeMount{Name: name, MountPath: t})
	}
	env, err := w.env(s)
	if err != nil {
		return corev1.PodSpec{}, "", err
	}
	c := corev1.Container{
		Name:            "main",
		Image:           s.Image,
		Args:            s.Command,
		Env:             env,
		VolumeMounts:    v.mounts,
		Resources:       w.resources(s),
		SecurityContext: containerSecurity(s),
	}
	if s.Entrypoint != "" {
		c.Command = []string{s.Entrypoint}
	}
	for _, l := range s.Listens {
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: portName(l), ContainerPort: int32(l.Port), Protocol: corev1.ProtocolTCP})
	}
	grace := int64(s.StopTimeout)
	pod := corev1.PodSpec{
		Containers:                    []corev1.Container{c},
		Volumes:                       v.volumes,
		TerminationGracePeriodSeconds: &grace,
		SecurityContext:               w.podSecurity(s),
		EnableServiceLinks:            new(bool), // the services' addresses come from DNS, not from env
	}
	if s.HostNetwork {
		pod.HostNetwork = true
		pod.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	}
	if len(v.fills) > 0 {
		init := c
		init.Name = "fill-secrets"
		init.Image = fillImage
		init.Command = []string{"/bin/sh", "-c", fillScript(v.fills)}
		init.Args, init.Env, init.Ports = nil, nil, nil
		init.VolumeMounts = v.initMounts
		pod.InitContainers = []corev1.Container{init}
	}
	if err := w.probes(s, &pod.Containers[0]); err != nil {
		return corev1.PodSpec{}, "", err
	}
	sort.Slice(pod.Volumes, func(i, j int) bool { return pod.Volumes[i].Name < pod.Volumes[j].Name })
	return pod, v.hash(), nil
}

func (w *workloads) resources(s plan.Service) corev1.ResourceRequirements {
	r, ok := w.p.Cluster.Requests[s.Unit]
	if !ok {
		return corev1.ResourceRequirements{} // a plan made without the cluster's options
	}
	cpu, mem := resource.MustParse(r.CPU), resource.MustParse(r.Memory)
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: mem},
	}
}

func containerSecurity(s plan.Service) *corev1.SecurityContext {
	no := false
	readOnly := !s.Security.WritableRoot
	caps := &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
	for _, c := range s.Security.CapAdd {
		caps.Add = append(caps.Add, corev1.Capability(c))
	}
	return &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &readOnly, Capabilities: caps}
}

// podSecurity runs the pod as the matrix user, as the host bundle runs
// the container, or as the image's own user where the plan says so. The
// group owns the volumes, so that the process can write its data.
func (w *workloads) podSecurity(s plan.Service) *corev1.PodSecurityContext {
	sc := &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	if s.Security.ImageUser {
		// The image's user owns the directories it writes (Dir.Owner "uid:gid").
		for _, m := range s.Mounts {
			if gid, ok := w.dirGroup(m.Source); ok {
				sc.FSGroup = &gid
				break
			}
		}
		return sc
	}
	uid, gid := int64(defaultID), int64(defaultID)
	if w.p.Host.UID != nil {
		uid = int64(*w.p.Host.UID)
	}
	if w.p.Host.GID != nil {
		gid = int64(*w.p.Host.GID)
	}
	yes := true
	sc.RunAsUser, sc.RunAsGroup, sc.FSGroup, sc.RunAsNonRoot = &uid, &gid, &gid, &yes
	return sc
}

// dirGroup is the numeric group of an image's own user that owns dir.
func (w *workloads) dirGroup(dir string) (int64, bool) {
	for _, d := range w.p.Dirs {
		if d.Path != dir {
			continue
		}
		if _, gid, ok := strings.Cut(d.Owner, ":"); ok {
			n, err := strconv.ParseInt(gid, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// env is the service's environment, sorted. An env file's placeholders
// become references to the secret, which the host fills in place.
func (w *workloads) env(s plan.Service) ([]corev1.EnvVar, error) {
	var env []corev1.EnvVar
	for _, e := range s.Env {
		env = append(env, corev1.EnvVar{Name: e.Name, Value: e.Value})
	}
	if s.EnvFile != "" {
		f, ok := w.file(s.EnvFile)
		if !ok {
			return nil, fmt.Errorf("env file %s is not in the plan", s.EnvFile)
		}
		fromFile, err := envFileVars(f)
		if err != nil {
			return nil, fmt.Errorf("env file %s: %w", s.EnvFile, err)
		}
		env = append(env, fromFile...)
	}
	sort.SliceStable(env, func(i, j int) bool { return env[i].Name < env[j].Name })
	return env, nil
}

// envFileVars reads an env file of the plan: NAME=VALUE lines, where a
// value that is a secret's placeholder becomes a reference to the secret.
// A value is taken literally; a line in any other form is refused rather
// than guessed at.
func envFileVars(f plan.File) ([]corev1.EnvVar, error) {
	var out []corev1.EnvVar
	for i, line := range strings.Split(string(f.Content), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok || strings.ContainsAny(value, `"'\$`) {
			return nil, fmt.Errorf("line %d is not a plain NAME=VALUE line", i+1)
		}
		if secret, ok := placeholderSecret(value); ok {
			out = append(out, corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secretObject(secret)}, Key: secret},
			}})
			continue
		}
		if strings.Contains(value, "__MATRIXGEN_SECRET_") {
			return nil, fmt.Errorf("line %d holds a secret inside a longer value", i+1)
		}
		out = append(out, corev1.EnvVar{Name: name, Value: value})
	}
	return out, nil
}

func placeholderSecret(value string) (string, bool) {
	name, ok := strings.CutPrefix(value, "__MATRIXGEN_SECRET_")
	if !ok {
		return "", false
	}
	name, ok = strings.CutSuffix(name, "__")
	return name, ok && plan.SecretPlaceholder(name) == value
}

func (w *workloads) file(hostPath string) (plan.File, bool) {
	for _, f := range w.p.Files {
		if f.Path == hostPath {
			return f, true
		}
	}
	return plan.File{}, false
}

// secretPath is where the host keeps a secret.
func (w *workloads) secretPath(s plan.Secret) string {
	if s.Path != "" {
		return s.Path
	}
	return path.Join(w.p.Host.SecretsDir, s.Name)
}

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// podVolumes turns one service's host mounts into volumes.
type podVolumes struct {
	w          *workloads
	service    plan.Service
	volumes    []corev1.Volume
	mounts     []corev1.VolumeMount
	initMounts []corev1.VolumeMount
	fills      []fill
	read       []plan.File // files the service reads, for its config hash
	secretVols map[string]bool
}

// fill is one file the init container copies from its template and fills
// with secrets.
type fill struct {
	from, to string
	secrets  []string
}

func (v *podVolumes) mount(m plan.Mount) error {
	w := v.w
	for _, s := range w.p.Secrets {
		if w.secretPath(s) == m.Source {
			name := v.secretVolume(s.Name)
			v.mounts = append(v.mounts, corev1.VolumeMount{Name: name, MountPath: m.Target, SubPath: s.Name, ReadOnly: true})
			return nil
		}
	}
	var files []plan.File
	for _, f := range w.p.Files {
		if under(f.Path, m.Source) {
			files = append(files, f)
		}
	}
	var secrets []plan.Secret
	for _, s := range w.p.Secrets {
		if p := w.secretPath(s); p != m.Source && under(p, m.Source) {
			secrets = append(secrets, s)
		}
	}
	if !under(m.Source, w.p.Host.DataDir) {
		return v.hostPath(m)
	}
	if len(files) == 0 && len(secrets) == 0 {
		return v.claim(m)
	}
	return v.config(m, files, secrets)
}

// secretVolume is the volume of one secret, made once per pod.
func (v *podVolumes) secretVolume(secret string) string {
	name := objectName("secret", secret)
	if v.secretVols == nil {
		v.secretVols = map[string]bool{}
	}
	if !v.secretVols[name] {
		v.secretVols[name] = true
		mode := int32(0o440)
		v.volumes = append(v.volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: secretObject(secret), DefaultMode: &mode, Items: []corev1.KeyToPath{{Key: secret, Path: secret}},
		}}})
	}
	return name
}

// config mounts generated files, and the secrets kept among them, at the
// mount's target. Files holding placeholders are copied and filled by the
// init container into a volume of the pod's own, which is mounted instead.
func (v *podVolumes) config(m plan.Mount, files []plan.File, secrets []plan.Secret) error {
	w := v.w
	single := len(files) == 1 && files[0].Path == m.Source
	base := objectName("files", w.relative(m.Source))
	var sources []corev1.VolumeProjection
	var entries []string // paths inside the volume
	needsFill := false
	for _, f := range files {
		rel := strings.TrimPrefix(strings.TrimPrefix(f.Path, m.Source), "/")
		if single {
			rel = path.Base(f.Path)
		}
		cm, err := w.configMap(path.Dir(f.Path))
		if err != nil {
			return err
		}
		item := corev1.KeyToPath{Key: path.Base(f.Path), Path: rel}
		if n := len(sources); n > 0 && sources[n-1].ConfigMap != nil && sources[n-1].ConfigMap.Name == cm.Name {
			sources[n-1].ConfigMap.Items = append(sources[n-1].ConfigMap.Items, item)
		} else {
			sources = append(sources, corev1.VolumeProjection{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: cm.Name}, Items: []corev1.KeyToPath{item},
			}})
		}
		entries = append(entries, rel)
		v.read = append(v.read, f)
		if len(f.Secrets) > 0 {
			needsFill = true
			v.fills = append(v.fills, fill{from: path.Join(templateRoot, base, rel), to: path.Join(filledRoot, base, rel), secrets: f.Secrets})
		}
	}
	for _, s := range secrets {
		rel := strings.TrimPrefix(strings.TrimPrefix(w.secretPath(s), m.Source), "/")
		sources = append(sources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: secretObject(s.Name)},
			Items:                []corev1.KeyToPath{{Key: s.Name, Path: rel}},
		}})
		entries = append(entries, rel)
	}
	mode := int32(0o440)
	projected := corev1.Volume{VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: sources, DefaultMode: &mode}}}
	subPath := ""
	if single {
		subPath = entries[0]
	}
	if !needsFill {
		projected.Name = base
		v.volumes = append(v.volumes, projected)
		v.mounts = append(v.mounts, corev1.VolumeMount{Name: base, MountPath: m.Target, SubPath: subPath, ReadOnly: true})
		return nil
	}
	projected.Name = objectName("template", w.relative(m.Source))
	v.volumes = append(v.volumes,
		projected,
		corev1.Volume{Name: base, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	v.initMounts = append(v.initMounts,
		corev1.VolumeMount{Name: projected.Name, MountPath: path.Join(templateRoot, base), ReadOnly: true},
		corev1.VolumeMount{Name: base, MountPath: path.Join(filledRoot, base)})
	// Files without placeholders and the secrets are copied as they are.
	filled := map[string]bool{}
	for _, f := range v.fills {
		filled[f.to] = true
	}
	for _, rel := range entries {
		to := path.Join(filledRoot, base, rel)
		if !filled[to] {
			v.fills = append(v.fills, fill{from: path.Join(templateRoot, base, rel), to: to})
		}
	}
	for _, f := range files {
		for _, s := range f.Secrets {
			name := v.secretVolume(s)
			if !v.initMounted(name) {
				v.initMounts = append(v.initMounts, corev1.VolumeMount{Name: name, MountPath: path.Join(secretRoot, s), ReadOnly: true})
			}
		}
	}
	v.mounts = append(v.mounts, corev1.VolumeMount{Name: base, MountPath: m.Target, SubPath: subPath, ReadOnly: true})
	return nil
}

func (v *podVolumes) initMounted(volume string) bool {
	for _, m := range v.initMounts {
		if m.Name == volume {
			return true
		}
	}
	return false
}

// hostPath mounts a directory of the node itself, read-only: a service
// that reads the host outside the data directory (node_exporter reads /)
// reads the node it runs on.
func (v *podVolumes) hostPath(m plan.Mount) error {
	name := "host-root"
	if m.Source != "/" {
		name = objectName("host", m.Source)
	}
	v.volumes = append(v.volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
		HostPath: &corev1.HostPathVolumeSource{Path: m.Source},
	}})
	v.mounts = append(v.mounts, corev1.VolumeMount{Name: name, MountPath: m.Target, ReadOnly: true})
	return nil
}

// claim mounts a data directory from a persistent volume claim, made once
// for every service that mounts the directory.
func (v *podVolumes) claim(m plan.Mount) error {
	w := v.w
	name := objectName(w.relative(m.Source))
	if name == "" {
		return fmt.Errorf("cannot name a volume for %s", m.Source)
	}
	if _, ok := w.claims[name]; !ok {
		size := w.p.Cluster.DataSize
		if h := w.p.Homeserver.MediaStore; h != "" && under(h, m.Source) {
			size = w.p.Cluster.MediaSize
		}
		c := &corev1.PersistentVolumeClaim{
			TypeMeta:   typeMeta("v1", "PersistentVolumeClaim"),
			ObjectMeta: w.meta(name, nil),
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
			},
		}
		if sc := w.p.Cluster.StorageClass; sc != "" {
			c.Spec.StorageClassName = &sc
		}
		w.claims[name] = c
		w.claimUsers[name] = map[string]bool{}
	}
	w.claimUsers[name][v.service.Unit] = true
	v.volumes = append(v.volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name, ReadOnly: m.ReadOnly},
	}})
	v.mounts = append(v.mounts, corev1.VolumeMount{Name: name, MountPath: m.Target, ReadOnly: m.ReadOnly})
	return nil
}

// configMap holds the generated files of one host directory, keyed by
// file name.
func (w *workloads) configMap(dir string) (*corev1.ConfigMap, error) {
	if cm, ok := w.configMaps[dir]; ok {
		return cm, nil
	}
	cm := &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: w.meta(objectName("files", w.relative(dir)), nil)}
	for _, f := range w.p.Files {
		if path.Dir(f.Path) != dir {
			continue
		}
		data, err := render.FileBytes(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		key := path.Base(f.Path)
		if utf8.Valid(data) {
			if cm.Data == nil {
				cm.Data = map[string]string{}
			}
			cm.Data[key] = string(data)
		} else {
			if cm.BinaryData == nil {
				cm.BinaryData = map[string][]byte{}
			}
			cm.BinaryData[key] = data
		}
	}
	w.configMaps[dir] = cm
	return cm, nil
}

// hash sums what the pod reads from ConfigMaps.
func (v *podVolumes) hash() string {
	h := sha256.New()
	for _, f := range v.read {
		data, _ := render.FileBytes(f) // configMap already failed on an error
		fmt.Fprintf(h, "%s %d\n", f.Path, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
