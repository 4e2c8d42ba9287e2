package render

import (
	"path"
	"strings"

	"github.com/matrixgen/matrixgen/internal/escape"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// jobData is what the job templates print; every field is already escaped
// for systemd.
type jobData struct {
	Name, Description, Command, Schedule string
	After                                []string
	RandomDelay                          int
}

func timerPath(unit string) string { return path.Join(unitDir, unit+".timer") }

// renderJobs writes each job's oneshot service and its timer. Neither
// needs a restart when it changes: daemon-reload gives the timer its new
// schedule, and the service's next run its new command.
func renderJobs(p *plan.Plan, t Tree) error {
	for _, j := range p.Jobs {
		d := jobData{
			Name:        j.Unit,
			Description: escape.SystemdValue(j.Description),
			Command:     escape.SystemdArgv(j.Command),
			Schedule:    escape.SystemdValue(j.Schedule),
			After:       suffix(j.After),
			RandomDelay: j.RandomDelaySeconds,
		}
		for tmpl, p := range map[string]string{"job.service.tmpl": unitPath(j.Unit), "job.timer.tmpl": timerPath(j.Unit)} {
			var b strings.Builder
			if err := parsed.ExecuteTemplate(&b, tmpl, d); err != nil {
				return err
			}
			if err := t.add(hostPath(p), 0o644, []byte(b.String())); err != nil {
				return err
			}
		}
	}
	return nil
}
