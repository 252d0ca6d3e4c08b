module github.com/transload/transload/services/inventory

go 1.26.7

require (
	github.com/transload/transload/gen v0.0.0
	github.com/transload/transload/platform v0.0.0
)

replace (
	github.com/transload/transload/gen => ../../gen
	github.com/transload/transload/platform => ../../platform
)
