package pages

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// catalogs holds every string of the pages, one flat map per language, read from
// i18n/LANG.json. A test checks that both have the same keys, with the same
// formatting verbs.
var catalogs = loadCatalogs()

// languageNames are shown on the language switch, each in its own language.
var languageNames = map[string]string{"fr": "Français", "en": "English"}

func loadCatalogs() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, lang := range []string{"fr", "en"} {
		data, err := i18nFS.ReadFile("i18n/" + lang + ".json")
		if err != nil {
			panic(err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(data, &m); err != nil {
			panic(fmt.Sprintf("pages: i18n/%s.json: %v", lang, err))
		}
		out[lang] = m
	}
	return out
}

// translate returns the message key in lang, formatted with args.
func translate(lang, key string, args ...any) (string, error) {
	msg, ok := catalogs[lang][key]
	if !ok {
		return "", fmt.Errorf("pages: no %q message for %q", lang, key)
	}
	if len(args) == 0 {
		return msg, nil
	}
	return fmt.Sprintf(msg, args...), nil
}

// pluralKey picks KEY.one or KEY.other for n: French counts 0 and 1 as one.
func pluralKey(lang, key string, n int64) string {
	if n == 1 || (lang == "fr" && n == 0) {
		return key + ".one"
	}
	return key + ".other"
}

// language picks the page language: ?lang= (remembered in a cookie), then the
// cookie, then the browser's Accept-Language, among the election's languages.
func (p *Pages) language(w http.ResponseWriter, r *http.Request) string {
	if q := queryLang(r); contains(p.langs, q) {
		if c, err := r.Cookie(LangCookie); err != nil || c.Value != q {
			setCookie(w, r, LangCookie, q, 365*24*3600)
		}
		return q
	}
	if c, err := r.Cookie(LangCookie); err == nil && contains(p.langs, c.Value) {
		return c.Value
	}
	if l := negotiate(r.Header.Get("Accept-Language"), p.langs); l != "" {
		return l
	}
	return p.langs[0]
}

// queryLang is the ?lang= of r ("" when none), without parsing an empty query.
func queryLang(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return r.URL.Query().Get("lang")
}

// negotiate returns the supported language the Accept-Language header prefers, or
// "": the highest q, the first of equal ones. It allocates nothing: it is on the
// path of every page, the cached ones too.
func negotiate(header string, supported []string) string {
	best, bestQ := "", 0.0
	for rest := header; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		for params != "" {
			var prm string
			prm, params, _ = strings.Cut(params, ";")
			if v, ok := strings.CutPrefix(strings.TrimSpace(prm), "q="); ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		if q <= bestQ {
			continue
		}
		primary, _, _ := strings.Cut(strings.TrimSpace(tag), "-")
		for _, l := range supported {
			if strings.EqualFold(l, primary) {
				best, bestQ = l, q
				break
			}
		}
	}
	return best
}

// formatInt writes n with the language's thousands separator.
func formatInt(lang string, n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	sep := ","
	if lang == "fr" {
		sep = "\u202f" // narrow no-break space
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// formatPercent writes part/total as a percentage with one decimal.
func formatPercent(lang string, part, total int64) string {
	if total <= 0 {
		total, part = 1, 0
	}
	s := strconv.FormatFloat(float64(part)*100/float64(total), 'f', 1, 64)
	if lang == "fr" {
		return strings.Replace(s, ".", ",", 1) + "\u00a0%"
	}
	return s + "%"
}

// formatDateTime writes a date and time for people, in loc: "jeudi 1 mai 2030 à
// 10 h 00", "Thursday 1 May 2030 at 10:00".
func formatDateTime(lang string, t time.Time, loc *time.Location) string {
	t = t.In(loc)
	day, _ := translate(lang, "weekday."+strings.ToLower(t.Weekday().String()))
	month, _ := translate(lang, "month."+strings.ToLower(t.Month().String()))
	at, _ := translate(lang, "date.at")
	return fmt.Sprintf("%s %d %s %d %s %s", day, t.Day(), month, t.Year(), at, formatClock(lang, t, loc))
}

// formatClock writes the time of day: "10 h 05", "10:05".
func formatClock(lang string, t time.Time, loc *time.Location) string {
	t = t.In(loc)
	if lang == "fr" {
		return fmt.Sprintf("%d h %02d", t.Hour(), t.Minute())
	}
	return fmt.Sprintf("%02d:%02d", t.Hour(), t.Minute())
}
