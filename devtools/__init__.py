"""Developer tooling that is never deployed: the local stack (Amazon's DynamoDB Local, S3 on moto, the API) and
what the tests and benchmarks need to start it."""
