package main

// Static checks of a Zygomys program at load. A called name that exists in
// zygomys but is not allowed is a security violation; a called name that
// nothing defines is an unknown function; names read but never defined are
// the program's free names. The checks err on the side of accepting: a false
// alarm on a valid script is worse than a miss, which fails at run time anyway.
//
// The parser keeps no positions, so names are located in the source by a
// small tokenizer.

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/glycerine/zygomys/v9/zygo"
)

type zygoScan struct {
	callable func(string) bool // defined in the program's environments
	denied   func(string) bool // a special form the program may not use
	builtin  func(string) bool // a zygomys builtin, allowed or not
	bound    map[string]bool   // names the script defines somewhere

	free      []string
	violation string
	unknown   string
}

func (sc *zygoScan) check(exprs []zygo.Sexp, source string) *scriptError {
	for _, x := range exprs {
		sc.collectBindings(x)
	}
	for _, x := range exprs {
		sc.walk(x)
	}
	if name := sc.violation; name != "" {
		line, column := locateZygoSymbol(source, name, true)
		what := "function"
		if isSpecialForm(name) {
			what = "special form"
		}
		return &scriptError{Type: errSecurityViolation, Message: fmt.Sprintf("%s '%s' is not allowed", what, name),
			Line: line, Column: column}
	}
	if name := sc.unknown; name != "" {
		line, column := locateZygoSymbol(source, name, true)
		return &scriptError{Type: errCompilation, Message: fmt.Sprintf("unknown function '%s'", name), Line: line, Column: column}
	}
	return nil
}

// collectBindings records every name the script defines, wherever it is: a
// name bound in one scope counts everywhere (the checks accept rather than
// guess scopes).
func (sc *zygoScan) collectBindings(x zygo.Sexp) {
	switch v := x.(type) {
	case *zygo.SexpArray:
		for _, item := range v.Val {
			sc.collectBindings(item)
		}
	case *zygo.SexpPair:
		items, ok := properList(v)
		if !ok {
			sc.collectBindings(v.Head)
			sc.collectBindings(v.Tail)
			return
		}
		if head, ok := items[0].(*zygo.SexpSymbol); ok {
			args := items[1:]
			switch head.Name() {
			case "def", "set", "defn", "defmac", "=", ":=":
				if len(args) > 0 {
					sc.bind(args[0])
				}
			case "mdef":
				for _, arg := range args[:max(len(args)-1, 0)] {
					sc.bind(arg)
				}
			}
			switch head.Name() {
			case "fn", "defn", "defmac", "let", "letseq":
				for _, arg := range args {
					if params, ok := arg.(*zygo.SexpArray); ok {
						for _, param := range params.Val {
							sc.bind(param)
						}
					}
				}
			}
		}
		if at := assignmentAt(items); at > 0 {
			for _, lhs := range items[:at] {
				sc.bind(lhs)
			}
		}
		for _, item := range items {
			sc.collectBindings(item)
		}
	}
}

func (sc *zygoScan) bind(x zygo.Sexp) {
	if sym, ok := x.(*zygo.SexpSymbol); ok {
		sc.bound[sym.Name()] = true
	}
}

// assignmentAt is the position of the infix assignment operator of a list
// like (a = 1), or -1.
func assignmentAt(items []zygo.Sexp) int {
	for i, item := range items[1:] {
		if sym, ok := item.(*zygo.SexpSymbol); ok && (sym.Name() == "=" || sym.Name() == ":=") {
			return i + 1
		}
	}
	return -1
}

func (sc *zygoScan) walk(x zygo.Sexp) {
	switch v := x.(type) {
	case *zygo.SexpSymbol:
		sc.reference(v.Name())
	case *zygo.SexpArray:
		for _, item := range v.Val {
			sc.walk(item)
		}
	case *zygo.SexpPair:
		items, ok := properList(v)
		if !ok {
			sc.walk(v.Head)
			sc.walk(v.Tail)
			return
		}
		sc.list(items)
	}
}

func (sc *zygoScan) list(items []zygo.Sexp) {
	if at := assignmentAt(items); at > 0 {
		for _, item := range items[at+1:] {
			sc.walk(item)
		}
		return
	}
	head, ok := items[0].(*zygo.SexpSymbol)
	if !ok {
		for _, item := range items {
			sc.walk(item)
		}
		return
	}
	name := head.Name()
	sc.call(name)
	args := items[1:]
	switch name {
	case "quote", "syntaxQuote":
		return // data, not code
	case "hash":
		for i, arg := range withoutPunctuation(args) {
			if _, isKey := arg.(*zygo.SexpSymbol); isKey && i%2 == 0 {
				continue
			}
			sc.walk(arg)
		}
		return
	}
	for _, arg := range args {
		sc.walk(arg)
	}
}

// withoutPunctuation drops the colons, commas and comments of a hash literal
// such as {"a": 1, b: 2}.
func withoutPunctuation(args []zygo.Sexp) []zygo.Sexp {
	out := make([]zygo.Sexp, 0, len(args))
	for _, arg := range args {
		switch v := arg.(type) {
		case *zygo.SexpComma, *zygo.SexpComment:
			continue
		case *zygo.SexpSymbol:
			if v.Name() == ":" {
				continue
			}
		}
		out = append(out, arg)
	}
	return out
}

func (sc *zygoScan) call(name string) {
	switch {
	case sc.denied(name):
		sc.violate(name)
	case sc.callable(name) || sc.bound[name] || !plainName(name):
	case sc.builtin(name):
		sc.violate(name)
	case sc.unknown == "":
		sc.unknown = name
	}
}

func (sc *zygoScan) violate(name string) {
	if sc.violation == "" {
		sc.violation = name
	}
}

func (sc *zygoScan) reference(name string) {
	if sc.callable(name) || sc.bound[name] || sc.builtin(name) || !plainName(name) || slices.Contains(sc.free, name) {
		return
	}
	sc.free = append(sc.free, name)
}

// plainName: an ordinary symbol (not an operator, a sigil, a dot path or a
// keyword), the only kind the checks judge.
func plainName(name string) bool {
	if name == "" || strings.ContainsAny(name, ".:") {
		return false
	}
	first := []rune(name)[0]
	return first == '_' || unicode.IsLetter(first)
}

// zygoWord is a symbol-like word of a Zygomys source and where it starts
// (1-based line and column, in runes).
type zygoWord struct {
	text   string
	line   int
	column int
	head   bool // right after an opening parenthesis: the name of a call
	key    bool // followed by a colon: a hash key
}

const (
	zygoDelimiters = "()[]{}\";,%^~@&'`:"
	zygoOperators  = "+-*<>=!/"
)

// zygoWords splits a source into words, skipping whitespace, comments,
// strings and character literals.
func zygoWords(source string) []zygoWord {
	runes := []rune(source)
	lines := make([]int, len(runes)+1)
	columns := make([]int, len(runes)+1)
	line, column := 1, 1
	for i, r := range runes {
		lines[i], columns[i] = line, column
		if r == '\n' {
			line, column = line+1, 1
		} else {
			column++
		}
	}
	next := func(i int) rune {
		if i+1 < len(runes) {
			return runes[i+1]
		}
		return 0
	}
	var words []zygoWord
	afterParen := false
	wordEnd := -1
	for i := 0; i < len(runes); {
		r := runes[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '/' && next(i) == '/':
			i = skipUntil(runes, i+2, "\n")
		case r == '/' && next(i) == '*':
			i = skipUntil(runes, i+2, "*/") + 2
		case r == '"' || r == '\'':
			i = skipQuoted(runes, i+1, r, true)
			afterParen = false
		case r == '`':
			i = skipQuoted(runes, i+1, r, false)
			afterParen = false
		case r == '(':
			afterParen = true
			i++
		case r == ':' && i == wordEnd:
			words[len(words)-1].key = true
			i++
		case strings.ContainsRune(zygoDelimiters, r):
			afterParen = false
			i++
		default:
			start := i
			operator := strings.ContainsRune(zygoOperators, r)
			for i < len(runes) && !unicode.IsSpace(runes[i]) && !strings.ContainsRune(zygoDelimiters, runes[i]) &&
				strings.ContainsRune(zygoOperators, runes[i]) == operator {
				i++
			}
			words = append(words, zygoWord{text: string(runes[start:i]), line: lines[start], column: columns[start], head: afterParen})
			afterParen = false
			wordEnd = i
		}
	}
	return words
}

// skipUntil returns the index of the next end at or after i (len when none).
func skipUntil(runes []rune, i int, end string) int {
	endRunes := []rune(end)
	for ; i+len(endRunes) <= len(runes); i++ {
		if slices.Equal(runes[i:i+len(endRunes)], endRunes) {
			return i
		}
	}
	return len(runes)
}

// skipQuoted returns the index just past the closing quote of a literal whose
// body starts at i.
func skipQuoted(runes []rune, i int, quote rune, escapes bool) int {
	for ; i < len(runes); i++ {
		switch {
		case escapes && runes[i] == '\\':
			i++
		case runes[i] == quote:
			return i + 1
		}
	}
	return len(runes)
}

// locateZygoSymbol finds where name first appears as a symbol (not a hash
// key), preferring a call position when head is set. 0, 0 when not found.
func locateZygoSymbol(source, name string, head bool) (line, column int) {
	words := zygoWords(source)
	if head {
		for _, w := range words {
			if w.text == name && w.head {
				return w.line, w.column
			}
		}
	}
	for _, w := range words {
		if w.text == name && !w.key {
			return w.line, w.column
		}
	}
	return 0, 0
}
