package pipeline

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupMaxAge: self-check.sh and the alert BackupTooOld accept the
// age backup.max_age_hours gives, so that a weekly schedule does not
// report every backup as missing.
func TestBackupMaxAge(t *testing.T) {
	const schedule = "  schedule: \"*-*-* 02:15:00\"\n"
	for _, tc := range []struct {
		name, edit string
		hours      string
	}{
		{"default", schedule, "36"},
		{"weekly", "  schedule: \"Sun *-*-* 02:15:00\"\n  max_age_hours: 180\n", "180"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := buildEdited(t, "full", schedule, tc.edit)
			data := b.host().DataDir
			check := readFile(t, filepath.Join(b.out, data, "bin/self-check.sh"))
			if !strings.Contains(check, "\nBACKUP_HOURS="+tc.hours+"\n") {
				t.Errorf("self-check.sh does not accept a backup %s hours old", tc.hours)
			}
			alerts := readFile(t, filepath.Join(b.out, data, "prometheus/config/rules/alerts.yml"))
			if !strings.Contains(alerts, "> "+tc.hours+" * 3600") || !strings.Contains(alerts, "for "+tc.hours+" hours") {
				t.Errorf("BackupTooOld does not fire after %s hours:\n%s", tc.hours, alerts)
			}
		})
	}
}
