module github.com/transload/transload/e2e

go 1.26

require github.com/transload/transload/gen v0.0.0

replace github.com/transload/transload/gen => ../gen
