package main

// Named time zones under the sandbox. time.LoadLocation opens a file per
// call, which the sandbox forbids; Tengo's times.date (with a location) and
// times.in_location call it. Reading every zone at start-up would cost more
// than the rest of the start-up, so the sandbox keeps a descriptor of the
// zoneinfo directory instead: the seccomp filter lets openat through
// relative to that descriptor only, Landlock keeps the directory read-only,
// and the names are checked as time.LoadLocation checks them.

import (
	"errors"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/d5/tengo/v2"
	"github.com/d5/tengo/v2/stdlib"
)

// zones: the zoneinfo directory, when the sandbox opened it.
var zones = struct {
	dir   string
	fd    int
	cache sync.Map // name -> *time.Location
}{fd: -1}

// zoneDirs: where time.LoadLocation looks on Unix, after $ZONEINFO.
var zoneDirs = []string{"/usr/share/zoneinfo/", "/usr/share/lib/zoneinfo/", "/usr/lib/locale/TZ/", "/etc/zoneinfo/"}

// openZoneDir opens the first zoneinfo directory there is.
func openZoneDir() {
	dirs := zoneDirs
	if env := os.Getenv("ZONEINFO"); env != "" {
		dirs = append([]string{env}, dirs...)
	}
	for _, dir := range dirs {
		fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		if err == nil {
			zones.dir, zones.fd = dir, fd
			return
		}
	}
}

var errLocation = errors.New("time: invalid location name")

// maxZoneFile bounds the read of a zone file (the largest are a few KiB).
const maxZoneFile = 1 << 20

// loadZone is time.LoadLocation through the zoneinfo directory descriptor.
func loadZone(name string) (*time.Location, error) {
	switch name {
	case "", "UTC":
		return time.UTC, nil
	case "Local":
		return time.Local, nil
	}
	if strings.Contains(name, "..") || name[0] == '/' || name[0] == '\\' || strings.ContainsRune(name, 0) {
		return nil, errLocation
	}
	if loc, ok := zones.cache.Load(name); ok {
		return loc.(*time.Location), nil
	}
	data, err := readZone(name)
	if err != nil {
		return nil, errors.New("unknown time zone " + name)
	}
	loc, err := time.LoadLocationFromTZData(name, data)
	if err != nil {
		return nil, err
	}
	zones.cache.Store(name, loc)
	return loc, nil
}

func readZone(name string) ([]byte, error) {
	if zones.fd < 0 {
		return nil, syscall.ENOENT
	}
	fd, err := syscall.Openat(zones.fd, name, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Size > maxZoneFile {
		return nil, syscall.EINVAL
	}
	data := make([]byte, 0, st.Size)
	buf := make([]byte, 4096)
	for {
		n, err := syscall.Read(fd, buf)
		if n > 0 {
			data = append(data, buf[:n]...)
		}
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return nil, err
		case n <= 0:
			return data, nil
		case len(data) > maxZoneFile:
			return nil, syscall.EFBIG
		}
	}
}

// sandboxedTimes is Tengo's times module with date and in_location taking
// their locations from loadZone; nil when the runner is not sandboxed.
func sandboxedTimes() map[string]tengo.Object {
	if zones.fd < 0 {
		return nil
	}
	module := make(map[string]tengo.Object, len(stdlib.BuiltinModules["times"]))
	for name, obj := range stdlib.BuiltinModules["times"] {
		module[name] = obj
	}
	date := stdlib.BuiltinModules["times"]["date"].(*tengo.UserFunction).Value
	module["date"] = &tengo.UserFunction{Name: "date", Value: func(args ...tengo.Object) (tengo.Object, error) {
		if len(args) != 8 {
			return date(args...)
		}
		// The first seven arguments as the original checks them.
		if ret, err := date(args[:7]...); err != nil {
			return ret, err
		}
		var parts [7]int
		for i := range parts {
			parts[i], _ = tengo.ToInt(args[i])
		}
		name, ok := tengo.ToString(args[7])
		if !ok {
			return nil, tengo.ErrInvalidArgumentType{Name: "eighth", Expected: "string(compatible)", Found: args[7].TypeName()}
		}
		loc, err := loadZone(name)
		if err != nil {
			return tengoError(err), nil
		}
		return &tengo.Time{Value: time.Date(parts[0], time.Month(parts[1]), parts[2], parts[3], parts[4], parts[5], parts[6], loc)}, nil
	}}
	module["in_location"] = &tengo.UserFunction{Name: "in_location", Value: func(args ...tengo.Object) (tengo.Object, error) {
		if len(args) != 2 {
			return nil, tengo.ErrWrongNumArguments
		}
		t, ok := tengo.ToTime(args[0])
		if !ok {
			return nil, tengo.ErrInvalidArgumentType{Name: "first", Expected: "time(compatible)", Found: args[0].TypeName()}
		}
		name, ok := tengo.ToString(args[1])
		if !ok {
			return nil, tengo.ErrInvalidArgumentType{Name: "second", Expected: "string(compatible)", Found: args[1].TypeName()}
		}
		loc, err := loadZone(name)
		if err != nil {
			return tengoError(err), nil
		}
		return &tengo.Time{Value: t.In(loc)}, nil
	}}
	return module
}

// tengoError is how the stdlib returns a Go error to the script.
func tengoError(err error) tengo.Object {
	return &tengo.Error{Value: &tengo.String{Value: err.Error()}}
}
