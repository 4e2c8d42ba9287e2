package kubernetes

import (
	"os"
	"strings"
	"testing"
)

func TestCronSchedule(t *testing.T) {
	for _, c := range []struct{ calendar, cron string }{
		{"*-*-* 03:30:00", "30 3 * * *"},
		{"*-*-* 02:15:00", "15 2 * * *"},
		{"Sun *-*-* 04:30:00", "30 4 * * 0"},
		{"Mon..Fri *-*-* 22:00", "0 22 * * 1-5"},
		{"Sat..Sun 06:00", "0 6 * * 6-7"},
		{"Mon,Thu *-*-* 01:05:00", "5 1 * * 1,4"},
		{"*-*-1 00:00:00", "0 0 1 * *"},
		{"*-1,7-1 12:00", "0 12 1 1,7 *"},
		{"*-*-* *:0/15:00", "0-59/15 * * * *"},
		{"*-*-* 0/6:00", "0 0-23/6 * * *"},
		{"*-*-* 08..18:00", "0 8-18 * * *"},
		{"daily", "0 0 * * *"},
		{"weekly", "0 0 * * 1"},
		{"Hourly", "0 * * * *"},
		{"Sun", "0 0 * * 0"},
	} {
		got, err := cronSchedule(c.calendar)
		if err != nil || got != c.cron {
			t.Errorf("cronSchedule(%q) = %q, %v; want %q", c.calendar, got, err, c.cron)
		}
	}
}

// A calendar event cron cannot express is refused, never run at another
// time.
func TestCronScheduleRefuses(t *testing.T) {
	for _, calendar := range []string{
		"2027-*-* 03:00:00",       // a year
		"*-*-* 03:00:30",          // seconds
		"*-*~01 03:00",            // the last day of a month
		"*-*-* 03:00 Europe/Rome", // a time zone
		"Funday 03:00",
		"*-*-* 25:00",
		"*-13-* 01:00",
		"Sun..Mon 01:00", // systemd's week starts on Monday: backwards
		"*-*-* 3",
	} {
		if got, err := cronSchedule(calendar); err == nil {
			t.Errorf("cronSchedule(%q) = %q, want an error", calendar, got)
		} else if !strings.Contains(err.Error(), calendar) {
			t.Errorf("cronSchedule(%q): the error does not name the schedule: %v", calendar, err)
		}
	}
}

// The cluster's backup reads its dumps back as backup.sh does, so that
// restore.sh compares a restore with the same counts: both take dump_rows
// from templates/dump-rows.sh.tmpl, which this holds them to.
func TestDumpRowsMatchesBackupScript(t *testing.T) {
	// The host's backup.sh as the quickstart's bundle has it.
	data, err := os.ReadFile("../../../golden/quickstart/matrix/bin/backup.sh")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "dump_rows() {")
	if start < 0 {
		t.Fatal("the host's backup.sh has no dump_rows")
	}
	end := strings.Index(text[start:], "\n}\n")
	if got := text[start : start+end+3]; got != dumpRowsFunction {
		t.Errorf("dump_rows differs from the host's backup.sh:\n%s\nwant:\n%s", dumpRowsFunction, got)
	}
}
