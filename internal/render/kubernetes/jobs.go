package kubernetes

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/matrixgen/matrixgen/internal/escape"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/templates"
)

// The host scripts the plan's jobs run (written by the host renderer into
// DATA_DIR/bin), each of which has a counterpart here.
const (
	backupScript        = "scheduled-backup.sh"
	vacuumScript        = "vacuum.sh"
	compressStateScript = "compress-state.sh"
)

// backupClaim holds the backups the scheduled backup writes in the
// cluster, where the host keeps them in backup.directory.
const backupClaim = "backups"

// hostnameTopology is the node label that places two pods on one node.
const hostnameTopology = "kubernetes.io/hostname"

// jobHistory is how many finished runs of each kind a CronJob keeps, for
// their logs.
const jobHistory = 3

// addJobs renders the host's timers as CronJobs. A job on the host is a
// maintenance script run as root that reaches the containers with docker
// exec; in the cluster the same work runs in a pod of its own that
// reaches the database over the network, as the roles that own the
// databases. Like a timer's service, a run that fails stays failed (no
// retries), and a run never starts while the last one is still going.
func (w *workloads) addJobs() error {
	for _, j := range w.p.Jobs {
		if len(j.Command) == 0 {
			return fmt.Errorf("job %s runs nothing", j.Unit)
		}
		var pod corev1.PodSpec
		var err error
		switch script := path.Base(j.Command[0]); script {
		case vacuumScript:
			pod, err = w.vacuumPod(j)
		case backupScript:
			pod, err = w.backupPod(j)
		case compressStateScript:
			pod, err = w.compressorPod(j)
		default:
			err = fmt.Errorf("it runs %s on the host, which the Kubernetes target has no counterpart for", j.Command[0])
		}
		if err != nil {
			return fmt.Errorf("job %s: %w", j.Unit, err)
		}
		if err := w.addCronJob(j, pod); err != nil {
			return fmt.Errorf("job %s: %w", j.Unit, err)
		}
	}
	return nil
}

func (w *workloads) addCronJob(j plan.Job, pod corev1.PodSpec) error {
	schedule, err := cronSchedule(j.Schedule)
	if err != nil {
		return err
	}
	name := objectName(j.Unit)
	meta := w.meta(name, map[string]string{unitLabel: name})
	meta.Annotations = map[string]string{"matrixgen.org/description": j.Description}
	noRetry, history := int32(0), int32(jobHistory)
	pod.RestartPolicy = corev1.RestartPolicyNever
	pod.EnableServiceLinks = new(bool)
	cj := batchv1.CronJob{
		TypeMeta:   typeMeta("batch/v1", "CronJob"),
		ObjectMeta: meta,
		Spec: batchv1.CronJobSpec{
			Schedule:                   schedule,
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			SuccessfulJobsHistoryLimit: &history,
			FailedJobsHistoryLimit:     &history,
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				BackoffLimit: &noRetry,
				Template:     corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: meta.Labels}, Spec: pod},
			}},
		},
	}
	return w.add("CronJob", name, "cronjobs", cj)
}

// bundledDatabases are the databases of the bundled server and how a pod
// reaches it.
func (w *workloads) bundledDatabases() (plan.Service, []plan.Database, error) {
	if w.p.Postgres == nil {
		return plan.Service{}, nil, fmt.Errorf("no bundled PostgreSQL server")
	}
	server, ok := findService(w.p, w.p.Postgres.Unit)
	if !ok || len(server.Listens) == 0 {
		return plan.Service{}, nil, fmt.Errorf("the bundled server %s serves no port", w.p.Postgres.Unit)
	}
	var dbs []plan.Database
	for _, d := range w.p.Databases {
		if d.Server == server.Unit {
			dbs = append(dbs, d)
		}
	}
	sort.Slice(dbs, func(i, j int) bool { return dbs[i].Name < dbs[j].Name })
	return server, dbs, nil
}

// jobPod is a pod of one container, run as the services are, with the
// database passwords mounted at secretRoot/NAME/NAME as the init
// containers find theirs.
func (w *workloads) jobPod(j plan.Job, image, script string, secrets []string) corev1.PodSpec {
	c := corev1.Container{
		Name:            "main",
		Image:           image,
		Command:         []string{"/bin/sh", "-c", script},
		SecurityContext: containerSecurity(plan.Service{}),
		Resources:       w.resources(plan.Service{Unit: j.Unit}),
		VolumeMounts:    []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
	}
	pod := corev1.PodSpec{
		Containers:      []corev1.Container{c},
		SecurityContext: w.podSecurity(plan.Service{}),
		Volumes:         []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
	}
	v := &podVolumes{w: w}
	for _, s := range secrets {
		name := v.secretVolume(s)
		pod.Containers[0].VolumeMounts = append(pod.Containers[0].VolumeMounts, corev1.VolumeMount{Name: name, MountPath: path.Join(secretRoot, s), ReadOnly: true})
	}
	pod.Volumes = append(pod.Volumes, v.volumes...)
	return pod
}

// vacuumPod runs VACUUM ANALYZE on every database of the bundled server,
// as vacuum.sh does on the host, each as its owner: an owner may vacuum
// every table of its database, which leaves out only the catalogs all
// databases share, and those autovacuum keeps.
func (w *workloads) vacuumPod(j plan.Job) (corev1.PodSpec, error) {
	server, dbs, err := w.bundledDatabases()
	if err != nil {
		return corev1.PodSpec{}, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `set -eu
vacuum() { # database role password-secret
	echo "vacuuming and analysing database $1"
	PGPASSWORD=$(cat "%s/$3/$3") vacuumdb -h %s -p %d -U "$2" -d "$1" --analyze
}
`, secretRoot, escape.Shell(serviceName(server)), server.Listens[0].Port)
	var secrets []string
	for _, d := range dbs {
		fmt.Fprintf(&b, "vacuum %s\n", escape.ShellWords([]string{d.Name, d.Role, d.PasswordSecret}))
		secrets = append(secrets, d.PasswordSecret)
	}
	return w.jobPod(j, server.Image, b.String(), secrets), nil
}

// compressorPod runs Synapse's state compressor against Synapse's
// database on the bundled server, as compress-state.sh does on the host,
// as Synapse's role with its password from its secret. The server is in
// the cluster, so the connection is not encrypted, as Synapse's is not.
func (w *workloads) compressorPod(j plan.Job) (corev1.PodSpec, error) {
	c := w.p.StateCompressor
	if c == nil {
		return corev1.PodSpec{}, fmt.Errorf("the plan has no state compressor")
	}
	server, dbs, err := w.bundledDatabases()
	if err != nil {
		return corev1.PodSpec{}, fmt.Errorf("the state compressor needs Synapse's database on the bundled server: %w", err)
	}
	i := slices.IndexFunc(dbs, func(d plan.Database) bool { return d.Name == c.Database })
	if i < 0 {
		return corev1.PodSpec{}, fmt.Errorf("database %s is not on the bundled server", c.Database)
	}
	db := dbs[i]
	script := fmt.Sprintf(`set -eu
location="host=%s port=%d dbname=%s user=%s sslmode=disable password=$(cat %s)"
exec synapse_auto_compressor -p "$location" -c %d -n %d
`, serviceName(server), server.Listens[0].Port, db.Name, db.Role,
		escape.Shell(path.Join(secretRoot, db.PasswordSecret, db.PasswordSecret)), c.ChunkSize, c.Chunks)
	return w.jobPod(j, c.Image, script, []string{db.PasswordSecret}), nil
}

// backupPod writes a backup in the layout backup.sh writes on a host
// (format 1: INFO, postgres/, media/, secrets/, SHA256SUMS), so that
// restore.sh on a host reads it: the databases dumped by the bundled
// server's own pg_dump, Synapse's own media, and every secret the cluster
// holds. The backups go to a claim of their own, newest kept as
// backup.keep_local says. What the host's run does besides and the
// cluster's does not (off_host, the homeserver's own store directory) the
// run says in its log, and docs/cluster.md says how to do instead.
func (w *workloads) backupPod(j plan.Job) (corev1.PodSpec, error) {
	bk := w.p.Backup
	if bk == nil {
		return corev1.PodSpec{}, fmt.Errorf("the plan has no backup to run")
	}
	// Without the bundled server the databases are backed up where they
	// are, as on a host, and the pod needs only a shell.
	image, major := fillImage, "-"
	var server plan.Service
	var dbs []plan.Database
	if w.p.Postgres != nil {
		var err error
		if server, dbs, err = w.bundledDatabases(); err != nil {
			return corev1.PodSpec{}, err
		}
		image, major = server.Image, strconv.Itoa(w.p.Postgres.Major)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `set -eu
umask 077
BACKUPS=%s
KEEP_LOCAL=%d
STAMP=$(date -u +%%Y%%m%%dT%%H%%M%%SZ)
DEST=$BACKUPS/$STAMP
WORK=$DEST.partial
say() { echo "matrix-backup: $*"; }
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK" "$WORK/secrets"
printf 'format 1\ndomain %%s\ncreated %%s\npostgres %%s\n' %s "$STAMP" %s >"$WORK/INFO"
`, escape.Shell(bk.Directory), bk.KeepLocal, escape.Shell(w.p.Host.Domain), major)
	if w.p.Postgres == nil {
		b.WriteString("say 'databases: on an external server; back them up there'\n")
	} else {
		w.backupDatabases(&b, server, dbs)
	}
	pod := w.jobPod(j, image, "", dbSecrets(dbs))
	if err := w.backupMedia(&b, &pod); err != nil {
		return corev1.PodSpec{}, err
	}
	w.backupSecrets(&b, &pod)
	if bk.Tool != "" {
		fmt.Fprintf(&b, "say %s\n", escape.Shell("backup.off_host ("+bk.Tool+") is not run in the cluster: copy the claim "+backupClaim+" off the cluster by its own means (docs/cluster.md)"))
	}
	if dir := w.p.Homeserver.StoreDir; dir != "" {
		fmt.Fprintf(&b, "say %s\n", escape.Shell("the homeserver's own database ("+dir+") is not in this backup: snapshot its volume (docs/cluster.md)"))
	}
	b.WriteString(`(cd "$WORK" && find . -type f -exec sha256sum {} + | LC_ALL=C sort -k 2) >"$WORK.sums"
mv "$WORK.sums" "$WORK/SHA256SUMS"
mv "$WORK" "$DEST"
trap - EXIT
if [ "$KEEP_LOCAL" -gt 0 ]; then
	find "$BACKUPS" -mindepth 1 -maxdepth 1 -type d -name '[0-9]*T[0-9]*Z' | LC_ALL=C sort -r | tail -n +$((KEEP_LOCAL + 1)) |
		while read -r old; do
			say "deleting the backup $old (backup.keep_local: $KEEP_LOCAL)"
			rm -rf "$old"
		done
fi
say "backup done: $DEST"
`)
	pod.Containers[0].Command[2] = b.String()
	claim := &corev1.PersistentVolumeClaim{
		TypeMeta:   typeMeta("v1", "PersistentVolumeClaim"),
		ObjectMeta: w.meta(backupClaim, nil),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			// The backups hold the media store's own media keep_local times.
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(w.p.Cluster.MediaSize)}},
		},
	}
	if sc := w.p.Cluster.StorageClass; sc != "" {
		claim.Spec.StorageClassName = &sc
	}
	if err := w.add("PersistentVolumeClaim", backupClaim, "persistentvolumeclaims", *claim); err != nil {
		return corev1.PodSpec{}, err
	}
	pod.Volumes = append(pod.Volumes, corev1.Volume{Name: backupClaim, VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: backupClaim},
	}})
	pod.Containers[0].VolumeMounts = append(pod.Containers[0].VolumeMounts, corev1.VolumeMount{Name: backupClaim, MountPath: bk.Directory})
	sort.Slice(pod.Volumes, func(i, j int) bool { return pod.Volumes[i].Name < pod.Volumes[j].Name })
	return pod, nil
}

// backupDatabases dumps every database of the bundled server as its
// owner, and reads each dump back as backup.sh does.
func (w *workloads) backupDatabases(b *strings.Builder, server plan.Service, dbs []plan.Database) {
	b.WriteString("mkdir \"$WORK/postgres\"\n")
	b.WriteString(dumpRowsFunction)
	fmt.Fprintf(b, `dump() { # database role password-secret [pg_dump option]
	say "dumping database $1 (owner $2)"
	echo "$1 $2" >>"$WORK/postgres/databases"
	PGPASSWORD=$(cat "%s/$3/$3") pg_dump -Fc -h %s -p %d -U "$2" ${4:+"$4"} -d "$1" >"$WORK/postgres/$1.dump"
	pg_restore -f - "$WORK/postgres/$1.dump" | dump_rows >"$WORK/postgres/$1.rows" || {
		say "the dump of $1 does not read back complete"
		exit 1
	}
}
`, secretRoot, escape.Shell(serviceName(server)), server.Listens[0].Port)
	roles := map[string]bool{}
	for _, d := range dbs {
		args := []string{d.Name, d.Role, d.PasswordSecret}
		if d.Name == w.p.Homeserver.Database {
			// A restore must not hand Synapse's one-time keys out again.
			args = append(args, "--exclude-table-data=e2e_one_time_keys_json")
		}
		fmt.Fprintf(b, "dump %s\n", escape.ShellWords(args))
		roles[d.Role] = true
	}
	for _, r := range sortedKeys(roles) {
		fmt.Fprintf(b, "echo %s >>\"$WORK/postgres/roles\"\n", escape.Shell(r+" login"))
	}
}

func dbSecrets(dbs []plan.Database) []string {
	var out []string
	for _, d := range dbs {
		out = append(out, d.PasswordSecret)
	}
	return out
}

// backupMedia mounts the homeserver's claim that holds the media store,
// read-only at the media store's host path, and copies Synapse's own
// media as backup.sh does. A claim only the homeserver mounts is
// ReadWriteOnce: the pod then runs on the homeserver's node, where such
// a volume can be mounted twice.
func (w *workloads) backupMedia(b *strings.Builder, pod *corev1.PodSpec) error {
	store := w.p.Homeserver.MediaStore
	if !w.p.Backup.Media || store == "" {
		b.WriteString("say 'media: left out (backup.media)'\n")
		return nil
	}
	homeserver, ok := findService(w.p, w.p.Homeserver.Unit)
	if !ok {
		return fmt.Errorf("the homeserver %s is not in the plan", w.p.Homeserver.Unit)
	}
	for _, m := range homeserver.Mounts {
		name := objectName(w.relative(m.Source))
		if _, isClaim := w.claims[name]; !isClaim || !under(store, m.Source) {
			continue
		}
		pod.Volumes = append(pod.Volumes, corev1.Volume{Name: "media", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name, ReadOnly: true},
		}})
		pod.Containers[0].VolumeMounts = append(pod.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "media", MountPath: m.Source, ReadOnly: true})
		if len(w.claimUsers[name]) == 1 {
			pod.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{nameLabel: serviceName(homeserver)}},
					TopologyKey:   hostnameTopology,
				}},
			}}
		}
		fmt.Fprintf(b, `mkdir "$WORK/media"
for part in local_content local_thumbnails; do
	[ -d %[1]s/"$part" ] || continue
	say "copying media: $part"
	cp -pR %[1]s/"$part" "$WORK/media/$part"
done
`, escape.Shell(store))
		return nil
	}
	return fmt.Errorf("the media store %s is on no volume of %s", store, homeserver.Unit)
}

// backupSecrets copies every secret the cluster holds, by name, as
// backup.sh copies the host's: a secret the cluster lacks (one the
// operator has not provided) leaves the pod able to start, and the run
// says it is not in the backup.
func (w *workloads) backupSecrets(b *strings.Builder, pod *corev1.PodSpec) {
	const dir = "/run/matrixgen/all-secrets"
	var sources []corev1.VolumeProjection
	var names []string
	optional := true
	for _, s := range w.p.Secrets {
		sources = append(sources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: secretObject(s.Name)},
			Items:                []corev1.KeyToPath{{Key: s.Name, Path: s.Name}},
			Optional:             &optional,
		}})
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return
	}
	mode := int32(0o440)
	pod.Volumes = append(pod.Volumes, corev1.Volume{Name: "all-secrets", VolumeSource: corev1.VolumeSource{
		Projected: &corev1.ProjectedVolumeSource{Sources: sources, DefaultMode: &mode},
	}})
	pod.Containers[0].VolumeMounts = append(pod.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "all-secrets", MountPath: dir, ReadOnly: true})
	fmt.Fprintf(b, `for name in %s; do
	if [ -f %s/"$name" ]; then
		cat %s/"$name" >"$WORK/secrets/$name"
	else
		say "secret $name: not in the cluster, not in the backup"
	fi
done
say "secrets and signing key copied: this backup is sensitive"
`, escape.ShellWords(names), dir, dir)
}

// dumpRowsFunction is backup.sh's dump_rows, from the template the host's
// scripts include: it reads a dump as SQL and prints "schema.table rows"
// for every table it fills, which restore.sh compares with the restored
// database; it fails on a dump without pg_dump's closing line.
var dumpRowsFunction = mustTemplateText("dump-rows.sh.tmpl")

func mustTemplateText(name string) string {
	b, err := templates.Files.ReadFile(name)
	if err != nil {
		panic(err) // embedded: only a build without the file gets here
	}
	return string(b)
}
