package main

import (
	"strings"

	"github.com/matrixgen/matrixgen/internal/validate"
)

// nameHolder stands for the instance name in the paths of a variant map's
// options: bridges.<name>.image.
const nameHolder = "<name>"

func variantAt(path string) (validate.Variant, bool) {
	for _, v := range validate.Variants() {
		if v.Path == path {
			return v, true
		}
	}
	return validate.Variant{}, false
}

// variantOptions lists the options of a variant map's entries: the type,
// then each option once per distinct meaning, with the types it has that
// meaning for. Options every type has alike (enabled, extra) show once
// without types; one whose default differs (image) shows once a type.
func variantOptions(vr validate.Variant) []option {
	prefix := vr.Path + "." + nameHolder
	var names []string
	for _, t := range vr.Types {
		names = append(names, t.Name)
	}
	typeOpt := option{Path: prefix + ".type", Type: "string", Required: true,
		Allowed: strings.Join(quoted(names), ", ")}
	var order []string
	byPath := map[string][]option{}
	for _, t := range vr.Types {
		for _, o := range options(t.Schema, prefix, true) {
			if o.Path == typeOpt.Path {
				typeOpt.Doc = o.Doc
				continue
			}
			known := byPath[o.Path]
			if len(known) == 0 {
				order = append(order, o.Path)
			}
			merged := false
			for i := range known {
				if sameMeaning(known[i], o) {
					known[i].Types = append(known[i].Types, t.Name)
					known[i].TypeDefaults = append(known[i].TypeDefaults, typeDefault{t.Name, o.Default})
					merged = true
					break
				}
			}
			if !merged {
				o.Types = []string{t.Name}
				o.TypeDefaults = []typeDefault{{t.Name, o.Default}}
				known = append(known, o)
			}
			byPath[o.Path] = known
		}
	}
	out := []option{typeOpt}
	for _, p := range order {
		for _, o := range byPath[p] {
			if len(o.Types) == len(names) {
				o.Types = nil
			}
			if !differ(o.TypeDefaults) {
				o.TypeDefaults = nil
			} else {
				o.Default = ""
			}
			out = append(out, o)
		}
	}
	return out
}

// sameMeaning: the option means the same for both types, perhaps with
// another default (each type has its own image, appservice ID, …).
func sameMeaning(a, b option) bool {
	return a.Type == b.Type && a.Allowed == b.Allowed && a.Doc == b.Doc &&
		a.Required == b.Required && (a.Default == "") == (b.Default == "")
}

func differ(ds []typeDefault) bool {
	for _, d := range ds {
		if d.Default != ds[0].Default {
			return true
		}
	}
	return false
}

// variantOptionsAt answers explain bridges.<anything>[.option]: the
// options of every type below that path.
func variantOptionsAt(path string) ([]option, bool) {
	parts := strings.SplitN(path, ".", 3)
	vr, ok := variantAt(parts[0])
	if !ok || len(parts) < 2 {
		return nil, false
	}
	want := vr.Path + "." + nameHolder
	if len(parts) == 3 {
		want += "." + parts[2]
	}
	var out []option
	for _, o := range variantOptions(vr) {
		if o.Path == want || strings.HasPrefix(o.Path, want+".") {
			out = append(out, o)
		}
	}
	return out, len(out) > 0
}

func quoted(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = `"` + v + `"`
	}
	return out
}
