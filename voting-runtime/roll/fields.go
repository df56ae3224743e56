package roll

import (
	"net/mail"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// checkText checks a required free-text field (voter_id, name), already
// trimmed. It returns "" when the field is good, else the reason.
func checkText(s string, maxLen int, missing string) string {
	switch {
	case s == "":
		return missing
	case !utf8.ValidString(s):
		return reasonNotUTF8
	case utf8.RuneCountInString(s) > maxLen:
		return reasonTooLong(maxLen)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return reasonControl
	}
	return ""
}

// checkEmail returns the address with its domain lower-cased, or the reason
// it is not a single bare address.
func checkEmail(s string) (string, string) {
	switch {
	case s == "":
		return "", ""
	case !utf8.ValidString(s):
		return "", reasonNotUTF8
	case len(s) > MaxEmailLength:
		return "", reasonEmailLong
	}
	addr, err := mail.ParseAddress(s)
	if err != nil {
		return "", reasonEmailInvalid
	}
	if addr.Name != "" || addr.Address != s {
		return "", reasonEmailBare
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	// A domain literal ([192.0.2.1]) or a name without a dot (localhost,
	// or a typo such as example-org) cannot be mailed to from the service.
	if strings.HasPrefix(domain, "[") || !strings.Contains(strings.Trim(domain, "."), ".") {
		return "", reasonEmailDomain
	}
	return local + "@" + strings.ToLower(domain), ""
}

// checkPhone returns the number in E.164 form, or the reason it is not a
// valid number written with its country code.
func checkPhone(s string) (string, string) {
	switch {
	case s == "":
		return "", ""
	case s[0] != '+':
		return "", reasonPhonePlus
	}
	digits := make([]byte, 0, 16)
	digits = append(digits, '+')
	for _, c := range s[1:] {
		switch {
		case '0' <= c && c <= '9':
			digits = append(digits, byte(c))
		case c == ' ', c == '.', c == '-', c == '(', c == ')',
			c == '\u00A0', c == '\u202F': // no-break spaces, as spreadsheets write them
		default:
			return "", reasonPhoneChars
		}
	}
	// E.164 numbers have at most 15 digits; the +, country code included,
	// at least 3 digits are needed for anything to be dialled.
	if len(digits) < 4 || len(digits) > 16 {
		return "", reasonPhoneInvalid
	}
	num, err := phonenumbers.Parse(string(digits), "")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", reasonPhoneInvalid
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	if !isE164(e164) {
		return "", reasonPhoneInvalid
	}
	return e164, ""
}

// isE164 reports whether s has the shape of an E.164 number: "+", a first
// digit other than 0, and at most 15 digits in all. It does not say whether
// the number exists: phonenumbers does.
func isE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkWeight returns the weight, 1 when the field is empty.
func checkWeight(s string) (int64, string) {
	if s == "" {
		return 1, ""
	}
	// At most 18 digits, so that ParseInt cannot overflow; leading zeros are fine.
	if len(s) > 18 || strings.IndexFunc(s, func(c rune) bool { return c < '0' || c > '9' }) >= 0 {
		return 0, reasonWeight
	}
	w, err := strconv.ParseInt(s, 10, 64)
	if err != nil || w < 1 || w > MaxWeight {
		return 0, reasonWeight
	}
	return w, ""
}
