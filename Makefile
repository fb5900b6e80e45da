STAGE ?= dev

.PHONY: run test package bench
run:  ## the API locally on an embedded DynamoDB, with demo data
	scripts/dev run
test:  ## the whole test suite
	scripts/dev test
package:  ## the deployable template and zips for STAGE, offline, linted and checked for circular dependencies
	scripts/deploy package $(STAGE)
bench:  ## the benchmarks under bench/
	.venv/bin/python bench/nightly_reads.py
