STAGE ?= dev

.PHONY: run test package bench
run:  ## the API locally on Amazon's DynamoDB Local (needs Java 17+; moto, with a warning, without it), with demo data
	scripts/dev run
test:  ## the whole test suite
	scripts/dev test
package:  ## the deployable template and zips for STAGE, offline, linted and checked for circular dependencies
	scripts/deploy package $(STAGE)
bench:  ## the benchmarks under bench/ (docs/performance.md records a run of each)
	.venv/bin/python bench/nightly_reads.py
	.venv/bin/python bench/cold_start.py
	.venv/bin/python bench/claim_files.py
