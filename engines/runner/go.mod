module github.com/goby-scripting/runner

go 1.23

require (
	github.com/d5/tengo/v2 v2.17.0
	github.com/glycerine/zygomys/v9 v9.0.9
	github.com/vmihailenco/msgpack/v5 v5.4.1
)
