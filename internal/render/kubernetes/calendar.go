package kubernetes

import (
	"fmt"
	"strconv"
	"strings"
)

// cronSchedule writes a systemd calendar event (the host timers'
// schedules, man systemd.time) as the five fields of a CronJob's
// schedule. It reads the forms a schedule is written in: the shorthands
// (daily, weekly ...) and "[WEEKDAYS] [DATE] TIME" with "*", numbers,
// lists ("1,15"), ranges ("1..5", "Mon..Fri") and repetitions ("0/15")
// in each field. What cron cannot say (a year, seconds other than 0, the
// last days of a month "~") is refused rather than run at another time.
func cronSchedule(calendar string) (string, error) {
	fail := func(why string) (string, error) {
		return "", fmt.Errorf("schedule %q: %s; the Kubernetes target needs one a CronJob can express (e.g. \"*-*-* 03:30:00\" or \"Sun *-*-* 04:30:00\")", calendar, why)
	}
	if short, ok := calendarShorthands[strings.ToLower(strings.TrimSpace(calendar))]; ok {
		return short, nil
	}
	fields := strings.Fields(calendar)
	weekdays := "*"
	if len(fields) > 0 && !strings.ContainsAny(fields[0], "-:") {
		w, err := cronWeekdays(fields[0])
		if err != nil {
			return fail(err.Error())
		}
		weekdays, fields = w, fields[1:]
	}
	month, day := "*", "*"
	if len(fields) > 0 && strings.Contains(fields[0], "-") {
		parts := strings.Split(fields[0], "-")
		if len(parts) == 2 {
			parts = append([]string{"*"}, parts...)
		}
		if len(parts) != 3 {
			return fail("the date is not YEAR-MONTH-DAY")
		}
		if parts[0] != "*" {
			return fail("cron has no year")
		}
		var err error
		if month, err = cronField(parts[1], 1, 12); err != nil {
			return fail("month: " + err.Error())
		}
		if day, err = cronField(parts[2], 1, 31); err != nil {
			return fail("day: " + err.Error())
		}
		fields = fields[1:]
	}
	hour, minute := "0", "0"
	if len(fields) > 0 {
		parts := strings.Split(fields[0], ":")
		if len(parts) < 2 || len(parts) > 3 {
			return fail("the time is not HOUR:MINUTE[:SECOND]")
		}
		if len(parts) == 3 {
			if s, err := strconv.Atoi(parts[2]); err != nil || s != 0 {
				return fail("cron runs on whole minutes, the seconds must be 00")
			}
		}
		var err error
		if hour, err = cronField(parts[0], 0, 23); err != nil {
			return fail("hour: " + err.Error())
		}
		if minute, err = cronField(parts[1], 0, 59); err != nil {
			return fail("minute: " + err.Error())
		}
		fields = fields[1:]
	}
	if len(fields) > 0 {
		return fail(fmt.Sprintf("%q after the time (a time zone?) is not read", strings.Join(fields, " ")))
	}
	return strings.Join([]string{minute, hour, day, month, weekdays}, " "), nil
}

// calendarShorthands are systemd's names for common schedules.
var calendarShorthands = map[string]string{
	"minutely":     "* * * * *",
	"hourly":       "0 * * * *",
	"daily":        "0 0 * * *",
	"weekly":       "0 0 * * 1", // systemd's week starts on Monday
	"monthly":      "0 0 1 * *",
	"yearly":       "0 0 1 1 *",
	"annually":     "0 0 1 1 *",
	"quarterly":    "0 0 1 1,4,7,10 *",
	"semiannually": "0 0 1 1,7 *",
}

var weekdayNumbers = map[string]int{
	"sun": 0, "sunday": 0, "mon": 1, "monday": 1, "tue": 2, "tuesday": 2, "wed": 3, "wednesday": 3,
	"thu": 4, "thursday": 4, "fri": 5, "friday": 5, "sat": 6, "saturday": 6,
}

// cronWeekdays reads "Mon", "Mon,Wed" or "Mon..Fri" (systemd's ranges
// run from Monday, so "Sat..Sun" is two days).
func cronWeekdays(field string) (string, error) {
	var out []string
	for _, item := range strings.Split(field, ",") {
		from, to, isRange := strings.Cut(strings.ToLower(item), "..")
		a, ok := weekdayNumbers[from]
		if !ok {
			return "", fmt.Errorf("%q is not a weekday", from)
		}
		if !isRange {
			out = append(out, strconv.Itoa(a))
			continue
		}
		b, ok := weekdayNumbers[to]
		if !ok {
			return "", fmt.Errorf("%q is not a weekday", to)
		}
		if b == 0 {
			b = 7 // cron takes 7 for Sunday at the end of a range
		}
		if a == 0 || a > b {
			return "", fmt.Errorf("weekday range %q does not run forward from Monday", item)
		}
		out = append(out, fmt.Sprintf("%d-%d", a, b))
	}
	return strings.Join(out, ","), nil
}

// cronField reads one numeric field of a calendar event: "*", a number,
// a list, a range "a..b" or a repetition "a/step" ("*/step").
func cronField(field string, lowest, highest int) (string, error) {
	if field == "*" {
		return "*", nil
	}
	var out []string
	for _, item := range strings.Split(field, ",") {
		base, step, repeats := strings.Cut(item, "/")
		if repeats {
			n, err := strconv.Atoi(step)
			if err != nil || n < 1 {
				return "", fmt.Errorf("%q is not a repetition", item)
			}
			start := lowest
			if base != "*" {
				if start, err = number(base, lowest, highest); err != nil {
					return "", err
				}
			}
			out = append(out, fmt.Sprintf("%d-%d/%d", start, highest, n))
			continue
		}
		if from, to, isRange := strings.Cut(item, ".."); isRange {
			a, err := number(from, lowest, highest)
			if err != nil {
				return "", err
			}
			b, err := number(to, lowest, highest)
			if err != nil {
				return "", err
			}
			if a > b {
				return "", fmt.Errorf("range %q runs backwards", item)
			}
			out = append(out, fmt.Sprintf("%d-%d", a, b))
			continue
		}
		n, err := number(item, lowest, highest)
		if err != nil {
			return "", err
		}
		out = append(out, strconv.Itoa(n))
	}
	return strings.Join(out, ","), nil
}

func number(s string, lowest, highest int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lowest || n > highest {
		return 0, fmt.Errorf("%q is not a number from %d to %d", s, lowest, highest)
	}
	return n, nil
}
