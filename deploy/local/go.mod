module github.com/transload/transload/deploy/local

go 1.26.7

require github.com/transload/transload/platform v0.0.0

replace (
	github.com/transload/transload/gen => ../../gen
	github.com/transload/transload/platform => ../../platform
)
