module github.com/goby-scripting/runner

go 1.26.0

require (
	github.com/d5/tengo/v2 v2.17.0
	github.com/elastic/go-seccomp-bpf v1.6.0
	github.com/glycerine/zygomys/v9 v9.0.9
	github.com/landlock-lsm/go-landlock v0.11.0
	github.com/vmihailenco/msgpack/v5 v5.4.1
	golang.org/x/net v0.41.0
	golang.org/x/sys v0.48.0
	kernel.org/pub/linux/libs/security/libcap/psx v1.2.77
)

require (
	github.com/glycerine/blake2b v0.0.0-20151022103502-3c8c640cd7be // indirect
	github.com/glycerine/fwd v1.1.4-beta.jea // indirect
	github.com/glycerine/greenpack v0.529.0 // indirect
	github.com/glycerine/liner v0.0.0-20160121172638-72909af234e0 // indirect
	github.com/philhofer/fwd v1.0.0 // indirect
	github.com/shurcooL/go v0.0.0-20200502201357-93f07166e636 // indirect
	github.com/shurcooL/go-goon v1.0.0 // indirect
	github.com/tinylib/msgp v1.1.2 // indirect
	github.com/ugorji/go/codec v1.1.7 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
)
